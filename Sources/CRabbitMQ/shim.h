#include <amqp.h>
#include <amqp_tcp_socket.h>

// Swift cannot call C variadic functions, and amqp_login takes the SASL user and password as
// variadic arguments: this one fixed-argument call is the only code here.
static inline amqp_rpc_reply_t wardline_amqp_login_plain(amqp_connection_state_t state, char const *vhost,
                                                         int frame_max, int heartbeat, char const *user,
                                                         char const *password) {
    return amqp_login(state, vhost, 0, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}
