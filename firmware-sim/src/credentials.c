/* Fleet credentials: read once at start, looked up by device id when connecting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "credentials.h"

int credentials_parse(const char *text, const char *name, credentials_t *out, char *err, size_t errlen) {
    out->items = NULL;
    out->n = 0;
    int cap = 0, line = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        line++;
        char buf[256];
        if (len >= sizeof buf) { snprintf(err, errlen, "%s:%d: line too long", name, line); return -1; }
        memcpy(buf, p, len);
        buf[len] = 0;
        p += len + (end ? 1 : 0);
        char id[sizeof out->items->id + 1], password[sizeof out->items->password + 1], extra[2];
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        int got = sscanf(buf, "%65s %129s %1s", id, password, extra);
        if (got <= 0) continue;
        if (got != 2) { snprintf(err, errlen, "%s:%d: expected 'id password'", name, line); return -1; }
        if (strlen(id) > 64 || strlen(password) > 128) { snprintf(err, errlen, "%s:%d: id or password too long", name, line); return -1; }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            credential_t *grown = realloc(out->items, (size_t)cap * sizeof *grown);
            if (!grown) { snprintf(err, errlen, "out of memory reading %s", name); return -1; }
            out->items = grown;
        }
        snprintf(out->items[out->n].id, sizeof out->items[out->n].id, "%s", id);
        snprintf(out->items[out->n].password, sizeof out->items[out->n].password, "%s", password);
        out->n++;
    }
    if (out->n == 0) { snprintf(err, errlen, "%s: no credentials in the file", name); return -1; }
    return 0;
}

int credentials_load(const char *path, credentials_t *out, char *err, size_t errlen) {
    out->items = NULL;
    out->n = 0;
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "cannot read credentials %s: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077)) {
        fclose(f);
        snprintf(err, errlen, "credentials %s may be read by others: chmod 600 it first", path);
        return -1;
    }
    long size = st.st_size;
    char *text = malloc((size_t)size + 1);
    if (!text) { fclose(f); snprintf(err, errlen, "out of memory reading %s", path); return -1; }
    size_t n = fread(text, 1, (size_t)size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(text); snprintf(err, errlen, "cannot read credentials %s", path); return -1; }
    text[n] = 0;
    int rc = credentials_parse(text, path, out, err, errlen);
    memset(text, 0, n);
    free(text);
    return rc;
}

const credential_t *credentials_find(const credentials_t *c, const char *id) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->items[i].id, id)) return &c->items[i];
    return NULL;
}

void credentials_free(credentials_t *c) {
    if (c->items) memset(c->items, 0, (size_t)c->n * sizeof *c->items);
    free(c->items);
    c->items = NULL;
    c->n = 0;
}
