# SPDX-License-Identifier: GPL-2.0
#
# kunit.py configuration for 32-bit arm on QEMU virt with 2 CPUs and 2 GiB of
# RAM. With the 3G/1G split, about 1.2 GiB of it is highmem (CONFIG_HIGHMEM,
# configs/arm.config): enough for the contig_alloc suite to allocate a
# buffer larger than the whole vmalloc area and reach it through windows.
# mem=512M on the kernel command line keeps it all lowmem.

from ..qemu_config import QemuArchParams

QEMU_ARCH = QemuArchParams(linux_arch='arm',
			   kconfig='''
CONFIG_ARCH_VIRT=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y''',
			   qemu_arch='arm',
			   kernel_path='arch/arm/boot/zImage',
			   kernel_command_line='console=ttyAMA0',
			   # This -m overrides kunit.py's own -m 1024 (QEMU
			   # takes the last one).
			   # The CPU is named, not left to the machine's default,
			   # so that a LAVA qemu device type, which always passes
			   # -cpu for arm, boots the same one (make lava-jobs).
			   extra_qemu_params=['-machine', 'virt', '-cpu', 'cortex-a15', '-m', '2048',
					      '-smp', '2'])
