#include <libwebsockets.h>
/* LWS_PRE is a macro expression Swift cannot import: the headroom lws_write needs before a frame. */
static const int wl_lws_pre = LWS_PRE;
