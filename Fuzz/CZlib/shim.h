// zlib, the reference FuzzGzip compares kmemlab's inflater with (Debian: zlib1g-dev).
#include <zlib.h>
