/* The fleet credentials file (credentials.c): one `id password` line per broker account. */
#ifndef WARDLINE_SIM_CREDENTIALS_H
#define WARDLINE_SIM_CREDENTIALS_H
#include <stddef.h>

typedef struct {
    char id[65], password[129];
} credential_t;

typedef struct {
    credential_t *items;
    int n;
} credentials_t;

/* Reads FILE: `id password` per line, '#' comments and blank lines skipped, as printed by
 * `wardline devices provision`. A file that group or others may read is refused (it holds
 * passwords). On error returns -1 with "file:line: reason" in err. */
int credentials_load(const char *path, credentials_t *out, char *err, size_t errlen);
/* Parses text already read; the same rules without the mode check. */
int credentials_parse(const char *text, const char *name, credentials_t *out, char *err, size_t errlen);
const credential_t *credentials_find(const credentials_t *c, const char *id);
void credentials_free(credentials_t *c);
#endif
