# SPDX-License-Identifier: GPL-2.0
#
# kunit.py configuration for 32-bit arm on QEMU's versatilepb: an ARM926EJ-S
# (ARMv5TEJ) with a VIVT data cache. Unlike the ARMv7 "virt" machine, its
# flush_dcache_page() does real cache maintenance, so cache-flush paths are
# exercised here. The board is device-tree only: run QEMU with
# -dtb <build_dir>/arch/arm/boot/dts/versatile-pb.dtb (kunit.py --qemu_args).

from ..qemu_config import QemuArchParams

QEMU_ARCH = QemuArchParams(linux_arch='arm',
			   kconfig='''
# CONFIG_ARCH_MULTI_V7 is not set
CONFIG_ARCH_MULTI_V5=y
CONFIG_ARCH_VERSATILE=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y''',
			   qemu_arch='arm',
			   kernel_path='arch/arm/boot/zImage',
			   kernel_command_line='console=ttyAMA0',
			   # The board takes at most 256 MiB; this -m overrides
			   # kunit.py's own -m 1024 (QEMU takes the last one).
			   # The CPU is named for a LAVA qemu device type, which
			   # always passes -cpu for arm (make lava-jobs).
			   extra_qemu_params=['-machine', 'versatilepb', '-cpu', 'arm926', '-m', '256'])

# Not a QemuArchParams field: the device tree, relative to the build directory.
DTB = 'arch/arm/boot/dts/versatile-pb.dtb'
