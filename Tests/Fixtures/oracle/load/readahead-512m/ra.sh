# readahead and page cache: a 16 MiB file on ext2, caches dropped, then read sequentially in
# 4 KiB reads, then half of another file read with 64 KiB reads, then a rewrite of 1 MiB.
disk_ext2 /mnt/d
dd if=/dev/zero of=/mnt/d/f bs=1M count=16
dd if=/dev/zero of=/mnt/d/g bs=1M count=16
sync
echo 3 > /proc/sys/vm/drop_caches
snap dropped
dd if=/mnt/d/f of=/dev/null bs=4k
snap read4k
dd if=/mnt/d/g of=/dev/null bs=64k count=128
snap read64k
dd if=/dev/zero of=/mnt/d/f bs=4k count=256 conv=notrunc
snap rewrite
