# SPDX-License-Identifier: GPL-2.0
#
# kunit.py configuration for 32-bit arm on QEMU virt with 2 GiB of RAM, of
# which about 1.2 GiB is highmem (CONFIG_HIGHMEM, configs/arm-highmem.config):
# enough for the contig_alloc suite to allocate a buffer larger than the whole
# vmalloc area and reach it through windows. Two CPUs, for the SMP kernel.

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
			   extra_qemu_params=['-machine', 'virt', '-m', '2048',
					      '-smp', '2'])
