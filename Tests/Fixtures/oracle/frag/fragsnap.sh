# Reads buddyinfo, both extfrag indices and buddyinfo again in one cat, 12 times, with some
# churn in between (files written and removed in the tmpfs), so that snapshots whose two
# buddyinfo reads agree give the indices for exactly those free lists.
i=0
while [ $i -lt 12 ]; do
  dd if=/dev/zero of=/tmp/f.$i bs=64k count=$((i * 37 + 5)) 2>/dev/null
  if [ $((i % 3)) -eq 2 ]; then rm -f /tmp/f.$((i - 1)); fi
  echo "@@SNAP $i"
  cat /proc/buddyinfo /sys/kernel/debug/extfrag/unusable_index /sys/kernel/debug/extfrag/extfrag_index /proc/buddyinfo
  i=$((i + 1))
done
