/* Scenario files: one step per line, times in device seconds (or mm:ss), '#' starts a comment.
 *
 *   ramp  FROM TO VITAL DELTA        e.g. ramp 0 1800 hr +35
 *   set   AT VITAL VALUE             e.g. set 120 spo2 84
 *   spike AT VITAL DELTA             a one-second artefact
 *   probe_off AT SECONDS             sensor disconnected: no HR/SpO2, a technical alert
 *   offline AT SECONDS               the device drops off and comes back with a backlog array
 *   battery AT PERCENT
 *   alert AT CODE PRIORITY MESSAGE   a device-raised alert
 *   o2 AT on|off                     supplemental oxygen
 *   acvpu AT A|C|V|P|U
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim.h"

static int parse_time(const char *s, double *out) {
    char *end;
    const char *colon = strchr(s, ':');
    if (colon) {
        long m = strtol(s, &end, 10);
        if (end != colon || m < 0) return -1;
        double sec = strtod(colon + 1, &end);
        if (*end || sec < 0 || sec >= 60) return -1;
        *out = m * 60.0 + sec;
        return 0;
    }
    *out = strtod(s, &end);
    return (*end || end == s || *out < 0) ? -1 : 0;
}

static int parse_number(const char *s, double *out) {
    char *end;
    *out = strtod(s, &end);
    return (*end || end == s) ? -1 : 0;
}

#define FAIL(...) do { snprintf(err, errlen, "%s:%d: ", name, line); \
    size_t n_ = strlen(err); snprintf(err + n_, errlen - n_, __VA_ARGS__); return -1; } while (0)

static int parse_line(char *buf, const char *name, int line, scenario_t *sc, char *err, size_t errlen) {
    char *tok[8] = {0};
    int n = 0;
    char *rest = NULL;
    for (char *p = strtok_r(buf, " \t", &rest); p && n < 8; p = strtok_r(NULL, " \t", &rest)) {
        tok[n++] = p;
        if (n == 4 && strcmp(tok[0], "alert") == 0) { tok[n++] = rest; break; }  /* the message keeps its spaces */
    }
    if (n == 0) return 0;
    if (strcmp(tok[0], "name") == 0) {
        if (n != 2) FAIL("'name' takes one word");
        snprintf(sc->name, sizeof sc->name, "%s", tok[1]);
        return 0;
    }
    if (sc->nsteps == MAX_STEPS) FAIL("more than %d steps", MAX_STEPS);
    step_t *s = &sc->steps[sc->nsteps];
    memset(s, 0, sizeof *s);
    s->vital = -1;
    if (n < 2 || parse_time(tok[1], &s->at)) FAIL("'%s' needs a time (seconds or mm:ss) first", tok[0]);
    if (strcmp(tok[0], "ramp") == 0) {
        s->kind = S_RAMP;
        if (n != 5) FAIL("usage: ramp FROM TO VITAL DELTA");
        if (parse_time(tok[2], &s->until) || s->until <= s->at) FAIL("ramp end must be a time after its start");
        if ((s->vital = vital_from_name(tok[3])) < 0) FAIL("unknown vital '%s' (hr spo2 temp rr sbp dbp)", tok[3]);
        if (parse_number(tok[4], &s->value)) FAIL("ramp delta '%s' is not a number", tok[4]);
    } else if (strcmp(tok[0], "set") == 0 || strcmp(tok[0], "spike") == 0) {
        s->kind = tok[0][1] == 'e' ? S_SET : S_SPIKE;
        if (n != 4) FAIL("usage: %s AT VITAL VALUE", tok[0]);
        if ((s->vital = vital_from_name(tok[2])) < 0) FAIL("unknown vital '%s' (hr spo2 temp rr sbp dbp)", tok[2]);
        if (parse_number(tok[3], &s->value)) FAIL("value '%s' is not a number", tok[3]);
        if (s->kind == S_SET && (s->value < vital_min[s->vital] || s->value > vital_max[s->vital]))
            FAIL("%s %s is outside %g-%g", tok[2], tok[3], vital_min[s->vital], vital_max[s->vital]);
    } else if (strcmp(tok[0], "probe_off") == 0 || strcmp(tok[0], "offline") == 0) {
        s->kind = tok[0][0] == 'p' ? S_PROBE_OFF : S_OFFLINE;
        double len;
        if (n != 3 || parse_number(tok[2], &len) || len <= 0) FAIL("usage: %s AT SECONDS", tok[0]);
        s->until = s->at + len;
    } else if (strcmp(tok[0], "battery") == 0) {
        s->kind = S_BATTERY;
        if (n != 3 || parse_number(tok[2], &s->value) || s->value < 0 || s->value > 100) FAIL("usage: battery AT 0-100");
    } else if (strcmp(tok[0], "alert") == 0) {
        s->kind = S_ALERT;
        if (n < 4) FAIL("usage: alert AT CODE low|medium|high MESSAGE");
        if (strcmp(tok[3], "low") && strcmp(tok[3], "medium") && strcmp(tok[3], "high"))
            FAIL("alert priority '%s' is not low, medium or high", tok[3]);
        snprintf(s->code, sizeof s->code, "%s", tok[2]);
        snprintf(s->priority, sizeof s->priority, "%s", tok[3]);
        snprintf(s->message, sizeof s->message, "%s", tok[4] ? tok[4] : "");
    } else if (strcmp(tok[0], "o2") == 0) {
        s->kind = S_O2;
        if (n != 3 || (strcmp(tok[2], "on") && strcmp(tok[2], "off"))) FAIL("usage: o2 AT on|off");
        s->value = strcmp(tok[2], "on") == 0;
    } else if (strcmp(tok[0], "acvpu") == 0) {
        s->kind = S_ACVPU;
        if (n != 3 || strlen(tok[2]) != 1 || !strchr("ACVPU", tok[2][0])) FAIL("usage: acvpu AT A|C|V|P|U");
        s->acvpu = tok[2][0];
    } else {
        FAIL("unknown step '%s'", tok[0]);
    }
    sc->nsteps++;
    return 0;
}

int scenario_parse(const char *text, const char *name, scenario_t *sc, char *err, size_t errlen) {
    memset(sc, 0, sizeof *sc);
    snprintf(sc->name, sizeof sc->name, "%s", name);
    char buf[256];
    int line = 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        line++;
        if (len >= sizeof buf) FAIL("line longer than %zu characters", sizeof buf - 1);
        memcpy(buf, p, len);
        buf[len] = 0;
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        if (parse_line(buf, name, line, sc, err, errlen)) return -1;
        p = eol ? eol + 1 : p + len;
    }
    return 0;
}

int scenario_load(const char *path, scenario_t *out, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: cannot read scenario: %s", path, strerror(errno)); return -1; }
    static char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    int toolong = !feof(f);
    fclose(f);
    if (toolong) { snprintf(err, errlen, "%s: scenario larger than %zu bytes", path, sizeof text - 1); return -1; }
    text[n] = 0;
    const char *base = strrchr(path, '/');
    return scenario_parse(text, base ? base + 1 : path, out, err, errlen);
}
