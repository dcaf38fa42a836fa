#ifndef PHOENIX_CHIREDIS_SHIM_H
#define PHOENIX_CHIREDIS_SHIM_H
// Debian's libhiredis-dev installs its headers under /usr/include/hiredis.
#include <hiredis/hiredis.h>
#endif
