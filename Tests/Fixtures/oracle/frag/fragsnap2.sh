# fragment fills most of RAM with movable pages and unmaps every other one; then buddyinfo and
# both extfrag indices are read in one cat, several times, so that snapshots whose two buddyinfo
# reads agree give the indices of exactly those free lists (orders above 0 run empty).
mkfifo /tmp/ready
fragment 300 /tmp/ready &
pid=$!
read r < /tmp/ready
echo "fragment says: $r"
i=0
while [ $i -lt 6 ]; do
  echo "@@SNAP $i"
  cat /proc/buddyinfo /sys/kernel/debug/extfrag/unusable_index /sys/kernel/debug/extfrag/extfrag_index /proc/buddyinfo
  i=$((i + 1))
done
kill $pid
