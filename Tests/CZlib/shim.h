// zlib, for the browser test's PNG decoder (Debian: zlib1g-dev).
#include <zlib.h>
