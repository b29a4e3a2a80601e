#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# LAVA job definitions for the booted matrix lines, so that a lab (LAVA, the
# engine most kernel CI runs on, KernelCI included) can run the matrix:
#
#   lava_jobs.py write [--artifacts URL] [--out DIR]
#	one job per booted QEMU line (DIR/jobs/LINE.yaml) and one device
#	dictionary per machine (DIR/devices/MACHINE.yaml), both validated
#	against lava-common's own schemas;
#   lava_jobs.py check
#	the same jobs and devices, validated and not written (make check);
#   lava_jobs.py judge LINE LOG
#	the same verdict on a LAVA log of LINE's job, a lab's too
#	('lavacli jobs logs --raw ID'): a failed case, a failed job, a kernel
#	report, and the direct run's cases if build/results has them;
#   lava_jobs.py run LINE
#	write the jobs with file:// artifacts from build/out, run LINE's job
#	through Debian's lava-dispatcher (lava-run) on this machine, and
#	compare its results, case for case, with the direct run's
#	(build/results/LINE.junit.xml from make test); a kernel report in
#	its console fails it as it fails the matrix line (splats.py).
#
# Everything comes from tests/kunit/matrix: the QEMU command is the one
# kunit.py itself makes for the line (its qemu_config, the matrix's kernel
# arguments), the suites and their order come from tests/kunit/expected,
# the timeouts from the matrix's timeout column. Nothing is written twice by
# hand. um (no QEMU machine), ia64 (no emulator) and the memblock simulator
# (no kernel) have no job.

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'kunit'))
import expected  # noqa: E402
import run_matrix  # noqa: E402
import splats  # noqa: E402

TOP = run_matrix.TOP

# A case line of KTAP in 6.1's printk format: "[  1.23]     ok 2 name",
# four spaces of indentation (a case of a suite) after the timestamp, the
# SKIP directive at the end. A monitor's pattern gives LAVA the result as one
# named group, which fixupdict maps; the line's start is all a group can
# hold, so a skipped case is told by the "ok " it captures (with the space)
# against the "ok" of a pass. The line must be complete before it matches
# (pexpect matches on whatever part of it has arrived so far): it ends at a
# CR or LF, since the serial line comes through a pty as "\r\r\n".
CASE_PATTERN = (r'\] {5}(?P<result>not ok|ok(?! \d+ [^\s#]+ # SKIP)|ok (?=\d+ [^\s#]+ # SKIP))'
		r' ?\d+ (?P<test_case_id>[^\s#]+)(?: # [^\r\n]*)?[\r\n]')
FIXUP = {'ok': 'pass', 'not ok': 'fail', 'ok ': 'skip'}

# Device constants lava-dispatcher reads for a qemu boot with monitors (it
# refuses to run without them); nothing here logs in or runs a shell.
CONSTANTS = {
	'kernel-start-message': 'Linux version [0-9]',
	'shutdown-message': 'reboot: Restarting system',
	'default-shell-prompt': 'lava-test: # ',
	'boot_retry': 1,
	'failure_retry': 1,
	'spawn_maxread': 4092,
	'posix': {'lava_test_sh_cmd': '/bin/sh', 'lava_test_results_dir': '/lava-%s',
		  'lava_test_shell_file': '~/.bashrc'},
}


def machine_name(t: run_matrix.Target) -> str:
	"""The device of a line: one per qemu_config (its file's stem)."""
	return 'earlymm-' + os.path.splitext(os.path.basename(t.qemu))[0].replace('_', '-')


def qemu_lines(targets: List[run_matrix.Target]) -> List[run_matrix.Target]:
	"""The lines a lab can run: booted in QEMU (not um's stock UML)."""
	return [t for t in targets if t.booted and t.qemu != 'stock']


def qemu_argv(t: run_matrix.Target, tree: str, build_dir: str) -> List[str]:
	"""The QEMU command kunit.py runs for line t, from kunit.py's own code:
	its qemu_config loader and LinuxSourceTreeOperationsQemu.start(), with
	Popen caught instead of run. These are kunit.py internals of the pinned
	tree (tools/testing/kunit/kunit_kernel.py), used so that LAVA boots
	exactly what make test boots."""
	run_matrix.kunit_modules(tree)
	import kunit_kernel
	config = os.path.join(TOP, t.qemu)
	extra = []
	dtb = run_matrix.qemu_config_dtb(config)
	if dtb:
		extra = ['-dtb', os.path.join(build_dir, dtb)]
	_, ops = kunit_kernel._get_qemu_ops(config, extra, run_matrix.CROSS[t.arch][0])
	caught: List[List[str]] = []
	popen = kunit_kernel.subprocess.Popen
	kunit_kernel.subprocess.Popen = lambda argv, **kw: caught.append(argv)
	try:
		with open(os.devnull, 'w') as null:
			stdout, sys.stdout = sys.stdout, null
			try:
				ops.start(t.cmdline + ['kunit.enable=1'], build_dir)
			finally:
				sys.stdout = stdout
	finally:
		kunit_kernel.subprocess.Popen = popen
	return caught[0]


def split_argv(argv: List[str], build_dir: str) -> Tuple[List[str], Dict[str, str], str]:
	"""QEMU's options (each with its value, if it takes one), the images
	(label: path under the build directory) and the kernel command line,
	from a QEMU command."""
	options: List[str] = []
	images: Dict[str, str] = {}
	append = ''
	i = 1
	while i < len(argv):
		opt = argv[i]
		value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith('-') else None
		i += 1 if value is None else 2
		if opt in ('-kernel', '-dtb'):
			images[opt[1:]] = os.path.relpath(value, build_dir)
		elif opt == '-append':
			append = value
		else:
			options.append(opt if value is None else f'{opt} {value}')
	return options, images, append


# lava-server's stock qemu device type (qemu.jinja2, 2023.01) renders a
# QEMU command from a job's context: for arm, -cpu and -machine; for other
# arches, -cpu host -enable-kvm unless no_kvm; for every arch, -nographic,
# "-net nic,MODEL,macaddr=... -net user", -m MEMORY and -monitor none, then
# the job's extra_options. device() writes that rendering for the two
# arches here, for lava-run; a lab renders its own from the same context.
# QEMU refuses a NIC model the board does not have, so each machine names
# its own.
NIC = {'virt': 'virtio', 'versatilepb': 'smc91c111', 'petalogix-s3adsp1800': 'xlnx.xps-ethernetlite'}
MAC = '52:54:00:12:34:58'


def context(arch: str, options: List[str]) -> dict:
	"""The job context that makes a stock qemu device type run the line's
	QEMU options: cpu, machine and memory by name where the type takes
	them (QEMU takes the last -m), the rest as extra_options."""
	# no_kvm: the type asks for -cpu host -enable-kvm on arches but arm
	# otherwise; there is no KVM for these guests on the lab's x86 hosts.
	ctx: dict = {'arch': arch, 'no_kvm': 1}
	extra = []
	machine = ''
	for o in options:
		key, _, value = o.partition(' ')
		if key == '-machine':
			machine = value
		elif key == '-m':
			ctx['memory'] = int(value)
		elif key == '-cpu' and arch == 'arm':
			ctx['cpu'] = value
		elif key != '-nographic':
			extra.append(o)
	if arch == 'arm':
		ctx['machine'] = machine
	else:
		# the type passes -machine for arm (and a few others) only
		extra.insert(0, f'-machine {machine}')
	ctx['model'] = f'model={NIC[machine]}'
	ctx['extra_options'] = extra
	return ctx


def device(ctx: dict) -> dict:
	"""The device dictionary a stock qemu device type renders from ctx, as
	lava-run takes it."""
	arch = ctx['arch']
	options = [f"-cpu {ctx['cpu']}", f"-machine {ctx['machine']}"] if arch == 'arm' else []
	options += ['-nographic', f"-net nic,{ctx['model']},macaddr={MAC} -net user",
		    f"-m {ctx['memory']}", '-monitor none']
	return {
		'device_type': 'qemu',
		'available_architectures': [arch],
		'constants': CONSTANTS,
		'parameters': {},
		'commands': {},
		'timeouts': {'actions': {}, 'connections': {}},
		'actions': {
			'deploy': {'methods': {'image': {'parameters': {}}}},
			'boot': {'connections': {'serial': None},
				 'methods': {'qemu': {'parameters': {'command': f'qemu-system-{arch}',
								     'options': options,
								     'extra': ctx['extra_options']}}}},
		},
	}


# The kernel's last words once KUnit is done (kunit_shutdown=reboot; a
# board that cannot power off halts, or panics, as kunit_until_halt.py
# knows).
SHUTDOWN = r'reboot: Restarting system|Reboot failed -- System halted|---\[ end Kernel panic'


def monitors(suites: List[str]) -> List[dict]:
	"""One LAVA test suite per KUnit suite, in the order the kernel runs
	them (LAVA waits for each start in turn), then one to the shutdown, so
	that LAVA's log holds the whole console for the kernel-report check. A
	suite ends with its own result line, "# SKIP" and all."""
	return [{
		'name': s,
		'start': rf'# Subtest: {re.escape(s)}[\r\n]',
		'end': rf'\] (?:not )?ok \d+ {re.escape(s)}(?: # [^\r\n]*)?[\r\n]',
		'pattern': CASE_PATTERN,
		'fixupdict': dict(FIXUP),
	} for s in suites] + [{
		'name': 'shutdown',
		'start': r'[\r\n]',
		'end': SHUTDOWN,
		'pattern': CASE_PATTERN,
		'fixupdict': dict(FIXUP),
	}]


def minutes(seconds: int) -> dict:
	return {'minutes': -(-seconds // 60)}


def job(t: run_matrix.Target, argv: List[str], build_dir: str, artifacts: str,
	suites: List[str]) -> dict:
	options, images, append = split_argv(argv, build_dir)
	arch = argv[0][len('qemu-system-'):]
	if argv[0] != f'qemu-system-{arch}' or not arch:
		raise ValueError(f'{t.name}: QEMU command {argv[0]!r} is not qemu-system-ARCH')
	imgs = {}
	for label, path in images.items():
		arg = f'-{label} {{{label}}}'
		if label == 'kernel':
			arg += f' -append "{append}"'
		imgs[label] = {'url': f'{artifacts.rstrip("/")}/{t.build}/{path}', 'image_arg': arg}
	test = t.timeout or 300
	return {
		'device_type': 'qemu',
		'job_name': f'earlymm {t.name}',
		'visibility': 'public',
		'priority': 'medium',
		'metadata': {'earlymm.line': t.name, 'earlymm.machine': machine_name(t)},
		# A monitor waits for its start at most the connection timeout
		# (lava-dispatcher's default is 30 s): as long as the line may.
		'timeouts': {'job': minutes(test + 240), 'action': minutes(test),
			     'connections': {'lava-test-monitor': minutes(test)}},
		'context': context(arch, options),
		'actions': [
			{'deploy': {'to': 'tmpfs', 'timeout': {'minutes': 3}, 'images': imgs}},
			# The monitors wait for each console line at most the boot
			# action's timeout (lava-dispatcher's QEMU session takes it
			# as its pexpect timeout): a case may take as long as the line.
			{'boot': {'method': 'qemu', 'media': 'tmpfs', 'timeout': minutes(test)}},
			{'test': {'timeout': minutes(test), 'monitors': monitors(suites)}},
		],
	}


def validate(jobs: Dict[str, dict], devices: Dict[str, dict]) -> None:
	"""lava-common's schemas, as lava-server and lava-run apply them."""
	from lava_common.schemas import validate as validate_job
	from lava_common.schemas import device as device_schema
	for name, j in jobs.items():
		try:
			validate_job(j)
		except Exception as e:
			raise ValueError(f'job {name}: {e}') from e
	for name, d in devices.items():
		try:
			device_schema.validate(d)
		except Exception as e:
			raise ValueError(f'device {name}: {e}') from e


def suites_in_order(want: Dict[str, Dict[str, Tuple[int, int]]], t: run_matrix.Target) -> List[str]:
	if t.expected not in want:
		raise ValueError(f'{t.name}: no suites in tests/kunit/expected: run make test and make expected')
	return list(want[t.expected])


def generate(args) -> Tuple[Dict[str, dict], Dict[str, dict]]:
	want = expected.read(args.expected)
	jobs: Dict[str, dict] = {}
	devices: Dict[str, dict] = {}
	for t in qemu_lines(run_matrix.read_matrix(args.matrix)):
		build_dir = os.path.join(args.build, 'out', t.build)
		argv = qemu_argv(t, args.tree, build_dir)
		jobs[t.name] = job(t, argv, build_dir, args.artifacts, suites_in_order(want, t))
		dev = device(jobs[t.name]['context'])
		if devices.setdefault(machine_name(t), dev) != dev:
			raise ValueError(f'{t.name}: QEMU options differ from the other lines of {machine_name(t)}')
	validate(jobs, devices)
	return jobs, devices


class NoAliases(yaml.SafeDumper):
	"""Each value written out in full: a job reads the same in a lab's web
	form as here, with no YAML anchors."""

	def ignore_aliases(self, data) -> bool:
		return True


def dump(path: str, data: dict) -> None:
	os.makedirs(os.path.dirname(path), exist_ok=True)
	with open(path, 'w') as f:
		f.write('# Generated by tests/lava/lava_jobs.py from tests/kunit/matrix; do not edit.\n')
		yaml.dump(data, f, Dumper=NoAliases, sort_keys=False, width=1000)


def write(args) -> int:
	jobs, devices = generate(args)
	for sub in ('jobs', 'devices'):
		shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
	for name, j in jobs.items():
		dump(os.path.join(args.out, 'jobs', name + '.yaml'), j)
	for name, d in devices.items():
		dump(os.path.join(args.out, 'devices', name + '.yaml'), d)
	print(f'lava: {len(jobs)} jobs in {args.out}/jobs, {len(devices)} devices in {args.out}/devices; '
	      'valid for lava-common ' + lava_version())
	return 0


def check(args) -> int:
	jobs, devices = generate(args)
	print(f'lava: {len(jobs)} jobs and {len(devices)} devices valid for lava-common {lava_version()}')
	return 0


def lava_version() -> str:
	from lava_common.version import __version__
	return __version__


def lava_log(log: str) -> List[dict]:
	"""The entries of a LAVA job log: lava-run's (one JSON object a line)
	or a lab's ('lavacli jobs logs --raw', a YAML list of the same)."""
	with open(log) as f:
		text = f.read()
	out = []
	for line in text.splitlines():
		try:
			entry = json.loads(line)
		except ValueError:
			# lava-run writes some of its own results as invalid JSON
			# (a download's "size"); a test case's must not be lost.
			if '"lvl": "results"' in line and '"definition": "lava"' not in line:
				out.append({'lvl': 'unreadable', 'msg': line[:200]})
			continue
		if isinstance(entry, dict) and 'lvl' in entry:
			out.append(entry)
	if not out:
		try:
			data = yaml.safe_load(text)
		except yaml.YAMLError:
			data = None
		if isinstance(data, list):
			out = [e for e in data if isinstance(e, dict) and 'lvl' in e]
	return out


def direct_results(junit: str) -> List[Tuple[str, str, str]]:
	"""(suite, case, result) of the direct run, in LAVA's words."""
	out = []
	for tc in ET.parse(junit).getroot().iter('testcase'):
		suite = tc.get('classname').split('.', 1)[1]
		if tc.find('failure') is not None or tc.find('error') is not None:
			result = 'fail'
		elif tc.find('skipped') is not None:
			result = 'skip'
		else:
			result = 'pass'
		out.append((suite, tc.get('name'), result))
	return out


def compare(lava: List[Tuple[str, str, str]], direct: List[Tuple[str, str, str]]) -> List[str]:
	"""How the two runs differ, case for case; empty when they agree."""
	a, b = collections.Counter(lava), collections.Counter(direct)
	return ([f'only through LAVA: {s}.{c} {r}' for (s, c, r) in sorted(a - b)] +
		[f'only in the direct run: {s}.{c} {r}' for (s, c, r) in sorted(b - a)])


def counts(results: List[Tuple[str, str, str]]) -> str:
	c = collections.Counter(r for _, _, r in results)
	return f'{c["pass"]} passed, {c["fail"]} failed, {c["skip"]} skipped'


def judge(line: str, rc: int, entries: List[dict], direct: Optional[List[Tuple[str, str, str]]],
	  want: Dict[str, Tuple[int, int]]) -> Tuple[List[Tuple[str, str, str]], List[str]]:
	"""The cases of a lava-run (its exit code rc and log entries), and
	what fails it: a difference from the direct run (if given), a LAVA
	action or the job not passing, a shortfall against tests/kunit/expected
	(a lost suite or case, a pass turned skip), a failed case, a kernel
	report in the console."""
	results = [e['msg'] for e in entries if e['lvl'] == 'results']
	# The kernel's console, as LAVA logged it: before the test action (target)
	# and after it (feedback).
	console = [e['msg'] + '\n' for e in entries
		   if e['lvl'] in ('target', 'feedback') and isinstance(e['msg'], str)]
	# The case as the kernel named it (LAVA's own "case" is lowercased and
	# has its other characters turned into "_").
	cases = [(r['definition'], r.get('extra', {}).get('test_case_id', r['case']), r['result'])
		 for r in results if r.get('definition') != 'lava']
	problems = compare(cases, direct) if direct is not None else []
	job_result = [r['result'] for r in results if r.get('definition') == 'lava' and r.get('case') == 'job']
	if rc != 0 or job_result != ['pass']:
		problems.insert(0, f'lava-run exit {rc}, job result {job_result[0] if job_result else "missing"}')
	for r in results:
		if r.get('definition') == 'lava' and r.get('case') != 'job' and r.get('result') != 'pass':
			problems.append(f'LAVA action {r["case"]}: {r["result"]} {r.get("extra", "")}')
	problems += [f'a test result LAVA logged is unreadable: {e["msg"]}' for e in entries
		     if e['lvl'] == 'unreadable']
	got: Dict[str, expected.SuiteRun] = {}
	for s, _, r in cases:
		run = got.setdefault(s, expected.SuiteRun())
		run.cases += 1
		run.passed += r == 'pass'
		run.skipped += r == 'skip'
	problems += expected.check(want, got, None)
	failed = [f'{s}.{c}' for s, c, r in cases if r == 'fail']
	if failed:
		problems.append(f'{len(failed)} case(s) failed: ' + ', '.join(failed[:5]))
	found = splats.find(line, console)
	if found:
		problems.append(f'{len(found)} kernel report(s) in the console: ' + ' | '.join(found[:3]))
	return cases, problems


def report(line: str, cases: List[Tuple[str, str, str]], problems: List[str],
	   direct: Optional[List[Tuple[str, str, str]]], log: str) -> int:
	print(f'lava: {line}: LAVA:   {counts(cases)} in {len({s for s, _, _ in cases})} suites')
	if direct is not None:
		print(f'lava: {line}: direct: {counts(direct)} in {len({s for s, _, _ in direct})} suites')
	for p in problems[:20]:
		print(f'lava: {line}: FAIL: {p}')
	if len(problems) > 20:
		print(f'lava: {line}: FAIL: and {len(problems) - 20} more differences')
	if problems:
		print(f'lava: {line}: FAIL: see {log}')
		return 1
	same = ' the same cases with the same results as the direct run;' if direct is not None else ''
	print(f'lava: {line}: PASS:{same} {len(cases)} cases, no kernel report; log {log}')
	return 0


def line_expectations(args, line: str) -> Dict[str, Tuple[int, int]]:
	"""tests/kunit/expected's suites of a matrix line."""
	t = next((t for t in run_matrix.read_matrix(args.matrix) if t.name == line), None)
	want = expected.read(args.expected)
	if t is None or t.expected not in want:
		raise ValueError(f'{line}: no such line in tests/kunit/matrix, or none in tests/kunit/expected')
	return want[t.expected]


def judge_log(args) -> int:
	"""A lab's log of LINE's job, judged as make lava-run judges its own;
	compared with the direct run when build/results has it."""
	junit = os.path.join(args.build, 'results', args.line + '.junit.xml')
	direct = direct_results(junit) if os.path.exists(junit) else None
	entries = lava_log(args.log)
	if not entries:
		raise ValueError(f'{args.log}: no LAVA log entries (lava-run output, or lavacli jobs logs --raw)')
	job = [e['msg']['result'] for e in entries if e['lvl'] == 'results'
	       and e['msg'].get('definition') == 'lava' and e['msg'].get('case') == 'job']
	cases, problems = judge(args.line, 0 if job == ['pass'] else 1, entries, direct,
				line_expectations(args, args.line))
	return report(args.line, cases, problems, direct, args.log)


def run(args) -> int:
	args.artifacts = 'file://' + os.path.join(args.build, 'out')
	jobs, devices = generate(args)
	if args.line not in jobs:
		print(f'lava: no job for {args.line!r}; the QEMU lines are: {", ".join(jobs)}', file=sys.stderr)
		return 2
	if not shutil.which('lava-run'):
		print("lava: lava-run is missing: apt-get install lava-dispatcher (make lava-run installs it)",
		      file=sys.stderr)
		return 2
	junit = os.path.join(args.build, 'results', args.line + '.junit.xml')
	if not os.path.exists(junit):
		print(f'lava: no direct run to compare with ({junit}): run make test TARGET={args.line}',
		      file=sys.stderr)
		return 2
	out = os.path.join(args.out, 'run', args.line)
	shutil.rmtree(out, ignore_errors=True)
	os.makedirs(out)
	job_file, dev_file = os.path.join(out, 'job.yaml'), os.path.join(out, 'device.yaml')
	dump(job_file, jobs[args.line])
	t = next(t for t in run_matrix.read_matrix(args.matrix) if t.name == args.line)
	dump(dev_file, devices[machine_name(t)])
	log = os.path.join(out, 'lava-run.log')
	with tempfile.TemporaryDirectory() as tmp, open(log, 'w') as f:
		# lava-dispatcher works in /var/lib/lava/dispatcher, root's.
		sudo = [] if os.geteuid() == 0 else ['sudo']
		rc = subprocess.call(sudo + ['lava-run', '--job-id', 'earlymm-' + args.line, '--output-dir', tmp,
				      '--device', dev_file, job_file], stdout=f, stderr=subprocess.STDOUT)
	direct = direct_results(junit)
	cases, problems = judge(args.line, rc, lava_log(log), direct, line_expectations(args, args.line))
	return report(args.line, cases, problems, direct, log)


def main() -> int:
	ap = argparse.ArgumentParser(description='LAVA jobs for the matrix')
	ap.add_argument('--tree', default=os.environ.get('TREE', os.path.join(TOP, 'build', 'tree')))
	ap.add_argument('--build', default=os.environ.get('EARLYMM_BUILD', os.path.join(TOP, 'build')))
	ap.add_argument('--matrix', default=os.path.join(TOP, 'tests', 'kunit', 'matrix'))
	ap.add_argument('--expected', default=expected.EXPECTED)
	sub = ap.add_subparsers(dest='cmd', required=True)
	w = sub.add_parser('write', help='write the jobs and device dictionaries')
	w.add_argument('--artifacts', default=None,
		       help='URL the build directories are served from (default: file:// of build/out)')
	sub.add_parser('check', help='generate and validate the jobs and devices, write nothing')
	r = sub.add_parser('run', help="run a line's job through lava-run and compare")
	r.add_argument('line')
	j = sub.add_parser('judge', help="judge a LAVA log of a line's job (lava-run's, or a lab's)")
	j.add_argument('line')
	j.add_argument('log')
	args = ap.parse_args()
	args.tree, args.build = os.path.abspath(args.tree), os.path.abspath(args.build)
	args.out = os.path.join(args.build, 'lava')
	try:
		if args.cmd == 'run':
			return run(args)
		if args.cmd == 'judge':
			return judge_log(args)
		args.artifacts = getattr(args, 'artifacts', None) or 'file://' + os.path.join(args.build, 'out')
		return write(args) if args.cmd == 'write' else check(args)
	except (OSError, ValueError) as e:
		print(f'lava: error: {e}', file=sys.stderr)
		return 2


if __name__ == '__main__':
	sys.exit(main())
