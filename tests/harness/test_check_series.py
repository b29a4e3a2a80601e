# SPDX-License-Identifier: GPL-2.0
"""make check's series checks that need no kernel: the add-only files."""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tests', 'check'))
import check_series  # noqa: E402

KP = 'Documentation/admin-guide/kernel-parameters.txt'

# The shape of patch 0009's first kernel-parameters.txt hunk: its new entry
# replaced the earlycon= line instead of going in beside it.
LOST_LINE = f'''Subject: [PATCH] mm: add a parameter

---
diff --git a/{KP} b/{KP}
index 77349163cc61..a24546d0da28 100644
--- a/{KP}
+++ b/{KP}
@@ -1183,7 +1183,8 @@
 			which are not unmapped.
 
-	earlycon=	[KNL] Output early console device and options.
+	early_contig=	[KNL] Reserve named physically contiguous regions at
+			boot.
 
 			When used with no options, the early console is
diff --git a/mm/x.c b/mm/x.c
--- a/mm/x.c
+++ b/mm/x.c
@@ -1,2 +1,1 @@
-int x;
 int y;
'''


def test_a_removed_parameter_line_is_counted(tmp_path):
	p = tmp_path / 'p.patch'
	p.write_text(LOST_LINE)
	assert check_series.removed_lines(str(p), check_series.ADD_ONLY) == 1
	# Lines removed from other files are theirs to remove.
	assert check_series.removed_lines(str(p), ('mm/x.c',)) == 1


def test_the_series_removes_no_parameter_line():
	for name in check_series.series_names(TOP):
		path = os.path.join(TOP, 'patches', name)
		assert check_series.removed_lines(path, check_series.ADD_ONLY) == 0, name


def test_compile_command_drops_the_dependency_file_output_and_source(tmp_path):
	"""check_headers compiles with the command Kbuild used for init/main.o,
	minus what names that one file."""
	sys.path.insert(0, os.path.join(TOP, 'tests', 'check'))
	import check_builds
	(tmp_path / 'init').mkdir()
	(tmp_path / 'init' / '.main.o.cmd').write_text(
		"cmd_init/main.o := ccache arm-linux-gnueabihf-gcc -Wp,-MMD,init/.main.o.d -nostdinc "
		"-I/t/include -DKBUILD_MODNAME='\"main\"' -O2 -c -o init/main.o /t/init/main.c  \n"
		"source_init/main.o := /t/init/main.c\n")
	assert check_builds.compile_command(str(tmp_path)) == (
		"ccache arm-linux-gnueabihf-gcc -nostdinc -I/t/include -DKBUILD_MODNAME='\"main\"' -O2")
