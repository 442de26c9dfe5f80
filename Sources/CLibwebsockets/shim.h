#include <libwebsockets.h>
/* libwebsockets 4.3, which deploy/install.sh builds into /usr/local: Debian 12's 4.1 drops a request
   whose query holds a %00 inside its parser, before Wardline could answer 400. */
#if LWS_LIBRARY_VERSION_MAJOR < 4 || (LWS_LIBRARY_VERSION_MAJOR == 4 && LWS_LIBRARY_VERSION_MINOR < 3)
#error "libwebsockets 4.3 or later is needed: deploy/install.sh builds it into /usr/local"
#endif
/* LWS_PRE is a macro expression Swift cannot import: the headroom lws_write needs before a frame. */
static const int wl_lws_pre = LWS_PRE;
/* The version of the headers Wardline was compiled with, to compare with the library it runs on. */
static const char *const wl_lws_header_version = LWS_LIBRARY_VERSION;
