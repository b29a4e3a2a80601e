# SPDX-License-Identifier: GPL-2.0
#
# kunit.py configuration for microblaze on QEMU's petalogix-s3adsp1800
# (big-endian MicroBlaze, UART Lite console). QEMU passes its own device tree
# to the kernel, so no DTB is built.
#
# The board has no reset or power-off device: after kunit_shutdown the
# kernel prints "Reboot failed -- System halted" and spins, and QEMU does not
# exit. Run it with a --timeout, or with a runner that stops QEMU at that line.

from ..qemu_config import QemuArchParams

QEMU_ARCH = QemuArchParams(linux_arch='microblaze',
			   kconfig='''
CONFIG_CPU_BIG_ENDIAN=y
CONFIG_SERIAL_UARTLITE=y
CONFIG_SERIAL_UARTLITE_CONSOLE=y
# CONFIG_CMDLINE_BOOL is not set''',
			   qemu_arch='microblaze',
			   kernel_path='arch/microblaze/boot/linux.bin',
			   kernel_command_line='console=ttyUL0',
			   extra_qemu_params=['-machine', 'petalogix-s3adsp1800'])
