#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# kunit.py, unchanged, for QEMU machines whose kernels cannot power off.
#
# petalogix-s3adsp1800 (microblaze) has no reset or power-off device: after
# kunit_shutdown the kernel prints "Reboot failed -- System halted" and spins,
# so QEMU never exits and every run would last until kunit.py's --timeout.
# This wrapper stops QEMU at that line (or at a panic's end marker) and lets
# kunit.py parse the complete log as usual. Usage is kunit.py's own:
#   kunit_until_halt.py KERNEL_TREE run --qemu_config=... [kunit.py options]

import os
import re
import sys

HALTED = re.compile(r'Reboot failed -- System halted|---\[ end Kernel panic')


class _StopAtHalt:
	"""Wraps the QEMU process kunit.py reads; ends its output at the halt line."""

	def __init__(self, process):
		self._process = process
		self._halted = False

	def __getattr__(self, name):
		return getattr(self._process, name)

	@property
	def stdout(self):
		return self

	def __iter__(self):
		for line in self._process.stdout:
			yield line
			if HALTED.search(line):
				self._halted = True
				self._process.terminate()
				return

	def read(self):
		# kunit.py stops iterating once the KTAP plan is complete, then
		# reads the rest of the output: that must also end at the halt line.
		return '' if self._halted else ''.join(self)

	def close(self):
		self._process.stdout.close()


def main():
	tree = sys.argv[1]
	sys.path.insert(0, os.path.join(tree, 'tools', 'testing', 'kunit'))
	os.chdir(tree)
	import kunit
	import kunit_kernel

	start = kunit_kernel.LinuxSourceTreeOperationsQemu.start

	def start_until_halt(self, params, build_dir):
		return _StopAtHalt(start(self, params, build_dir))

	kunit_kernel.LinuxSourceTreeOperationsQemu.start = start_until_halt
	kunit.main(sys.argv[2:])


if __name__ == '__main__':
	main()
