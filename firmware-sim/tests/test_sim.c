/* Unit tests of the simulator's pure parts: physiology bounds, scenarios, payloads. */
#include <stdio.h>
#include <string.h>
#include "credentials.h"
#include "sim.h"

static int passed, failed;
#define CHECK(cond, ...) do { if (cond) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)

static const char *dir = "scenarios";

static void load(const char *name, scenario_t *sc) {
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s.scn", dir, name);
    int rc = scenario_load(path, sc, err, sizeof err);
    CHECK(rc == 0, "loading %s: %s", path, err);
}

/* Mean of one vital over device seconds [from, to) for a patient following sc. */
static double mean_over(const scenario_t *sc, int vital, double from, double to, uint64_t seed) {
    patient_t p;
    rng_t r;
    rng_seed(&r, seed);
    patient_init(&p, &r);
    vitals_t v;
    double sum = 0;
    int n = 0;
    for (double t = 0; t < to; t += 1) {
        patient_step(&p, &r, sc, t, 1, 0, &v);
        if (t >= from && v.present[vital]) { sum += v.value[vital]; n++; }
    }
    return n ? sum / n : -1;
}

static void physiology_stays_within_bounds(void) {
    int out = 0, low_spo2 = 0, samples = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        patient_t p;
        rng_t r;
        rng_seed(&r, seed);
        patient_init(&p, &r);
        CHECK(p.age >= 18 && p.age <= 93, "age %d", p.age);
        vitals_t v;
        for (double t = 0; t < 6 * 3600; t += 1) {
            patient_step(&p, &r, NULL, t, 1, 2.0, &v);
            for (int k = 0; k < V_COUNT; k++)
                if (v.present[k] && (v.value[k] < vital_min[k] || v.value[k] > vital_max[k])) out++;
            if (v.present[V_SPO2]) { samples++; if (v.value[V_SPO2] < 92) low_spo2++; }
            if (v.value[V_DBP] > v.value[V_SBP] - 15 + 1e-9) out++;
        }
    }
    CHECK(out == 0, "%d values outside their bounds", out);
    /* A stable patient is stable: SpO2 under 92 only in brief artefacts. */
    CHECK(low_spo2 < samples / 200, "stable patients below 92 %% SpO2 in %d of %d samples", low_spo2, samples);
    double hr = mean_over(NULL, V_HR, 0, 3600, 7), rr = mean_over(NULL, V_RR, 0, 3600, 7);
    CHECK(hr > 50 && hr < 100, "resting HR mean %.1f", hr);
    CHECK(rr > 10 && rr < 22, "resting RR mean %.1f", rr);
}

static void same_seed_same_patient(void) {
    double a = mean_over(NULL, V_HR, 0, 600, 99), b = mean_over(NULL, V_HR, 0, 600, 99), c = mean_over(NULL, V_HR, 0, 600, 98);
    CHECK(a == b, "seed 99 gave %.3f then %.3f", a, b);
    CHECK(a != c, "different seeds gave the same run");
}

static void sepsis_scenario_is_followed(void) {
    scenario_t sc;
    load("sepsis", &sc);
    CHECK(sc.nsteps == 6 && strcmp(sc.name, "sepsis") == 0, "sepsis has %d steps, name %s", sc.nsteps, sc.name);
    double hr0 = mean_over(&sc, V_HR, 0, 60, 5), hr1 = mean_over(&sc, V_HR, 1740, 1800, 5);
    double sp0 = mean_over(&sc, V_SPO2, 0, 60, 5), sp1 = mean_over(&sc, V_SPO2, 1740, 1800, 5);
    double bp0 = mean_over(&sc, V_SBP, 0, 60, 5), bp1 = mean_over(&sc, V_SBP, 1740, 1800, 5);
    double t0 = mean_over(&sc, V_TEMP, 0, 60, 5), t1 = mean_over(&sc, V_TEMP, 1740, 1800, 5);
    CHECK(hr1 - hr0 > 30, "HR %.1f -> %.1f", hr0, hr1);
    CHECK(sp0 - sp1 > 4, "SpO2 %.1f -> %.1f", sp0, sp1);
    CHECK(bp0 - bp1 > 25, "SBP %.1f -> %.1f", bp0, bp1);
    CHECK(t1 - t0 > 1.5, "temp %.2f -> %.2f", t0, t1);
}

static void probe_off_removes_hr_and_spo2_for_its_window(void) {
    scenario_t sc;
    load("probe-off", &sc);
    patient_t p;
    rng_t r;
    rng_seed(&r, 3);
    patient_init(&p, &r);
    vitals_t v;
    int missing_in = 0, missing_out = 0;
    for (double t = 0; t < 200; t += 1) {
        patient_step(&p, &r, &sc, t, 1, 0, &v);
        bool inside = t >= 90 && t < 150;
        if (!v.present[V_SPO2]) { if (inside) missing_in++; else missing_out++; }
    }
    CHECK(missing_in == 60 && missing_out == 0, "missing inside %d (want 60), outside %d", missing_in, missing_out);
}

static void every_shipped_scenario_parses(void) {
    const char *names[] = {"stable", "sepsis", "hypoxia", "bradycardia", "probe-off", "offline-backlog", "low-battery"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) { scenario_t sc; load(names[i], &sc); }
}

static void malformed_scenarios_name_their_line(void) {
    struct { const char *text, *want; } cases[] = {
        {"name x\n# fine\nramp 0 10 hx +5\n", "bad.scn:3: unknown vital 'hx'"},
        {"set 10 spo2 130\n", "bad.scn:1: spo2 130 is outside"},
        {"ramp 20 10 hr 5\n", "bad.scn:1: ramp end must be a time after its start"},
        {"\n\nexplode 10\n", "bad.scn:3: unknown step 'explode'"},
        {"alert 5 lead_off urgent Lead off\n", "bad.scn:1: alert priority 'urgent'"},
        {"battery 5 140\n", "bad.scn:1: usage: battery AT 0-100"},
        {"ramp x 10 hr 5\n", "bad.scn:1: 'ramp' needs a time"},
        {"acvpu 1:75 V\n", "bad.scn:1: 'acvpu' needs a time"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        scenario_t sc;
        char err[256] = "";
        int rc = scenario_parse(cases[i].text, "bad.scn", &sc, err, sizeof err);
        CHECK(rc == -1 && strstr(err, cases[i].want), "case %zu: got '%s', want '%s'", i, err, cases[i].want);
    }
    scenario_t sc;
    char err[256];
    CHECK(scenario_parse("o2 1:30 on\nacvpu 90 C\nalert 10 lead_off high ECG lead off\n", "ok", &sc, err, sizeof err) == 0
          && sc.nsteps == 3 && sc.steps[0].at == 90 && strcmp(sc.steps[2].message, "ECG lead off") == 0,
          "valid scenario refused: %s", err);
}

static void payloads_follow_the_contract(void) {
    vitals_t v = {.present = {true, true, true, true, true, true}, .value = {72, 97, 36.84, 16, 121, 79}, .acvpu = 'A'};
    char buf[384];
    int n = payload_reading(buf, sizeof buf, 1042, 1795484315123, "PAT-00042", &v, false, true, 0, BAD_NONE);
    CHECK(n > 0 && strcmp(buf, "{\"v\":1,\"seq\":1042,\"ts\":1795484315123,\"patient_id\":\"PAT-00042\",\"hr\":72,"
                                "\"spo2\":97,\"temp\":36.8,\"rr\":16,\"sbp\":121,\"dbp\":79,\"o2\":false,\"acvpu\":\"A\"}") == 0,
          "monitor payload: %s", buf);
    n = payload_reading(buf, sizeof buf, 1, 1, "P", &v, true, false, 5, BAD_NONE);
    CHECK(n > 0 && strstr(buf, "\"hr\":72,\"spo2\":97,\"tx_us\":5}") && !strstr(buf, "temp"), "oximeter payload: %s", buf);
    n = payload_reading(buf, sizeof buf, 1, 1, "P", &v, false, false, 0, BAD_MALFORMED);
    CHECK(n > 0 && buf[n - 1] != '}', "malformed payload still closes: %.*s", n, buf);
    payload_reading(buf, sizeof buf, 1, 1, "P", &v, false, false, 0, BAD_WRONG_TYPE);
    CHECK(strstr(buf, "\"hr\":\"72\"") != NULL, "wrong type: %s", buf);
    payload_reading(buf, sizeof buf, 1, 1, "P", &v, false, false, 0, BAD_IMPOSSIBLE);
    CHECK(strstr(buf, "\"spo2\":1") != NULL, "impossible: %s", buf);
    payload_reading(buf, sizeof buf, 1, 1000, "P", &v, false, false, 0, BAD_FUTURE);
    CHECK(strstr(buf, "\"ts\":3601000") != NULL, "future: %s", buf);
    CHECK(payload_reading(buf, 20, 1, 1, "P", &v, false, false, 0, BAD_NONE) == -1, "overflow not refused");
}

static void credentials_files_are_read_and_refused_clearly(void) {
    credentials_t c;
    char err[256];
    int rc = credentials_parse("# demo fleet\nmon-00000 pw-a\n\n  oxi-00001\tpw-b  # the oximeter\n", "f", &c, err, sizeof err);
    CHECK(rc == 0 && c.n == 2, "parse: %s", err);
    CHECK(rc == 0 && credentials_find(&c, "oxi-00001") && !strcmp(credentials_find(&c, "oxi-00001")->password, "pw-b"), "lookup");
    CHECK(rc == 0 && credentials_find(&c, "mon-00002") == NULL, "unknown id found");
    credentials_free(&c);
    CHECK(credentials_parse("mon-1 pw extra\n", "f", &c, err, sizeof err) == -1 && strstr(err, "f:1: expected 'id password'"), "%s", err);
    CHECK(credentials_parse("mon-1\n", "f", &c, err, sizeof err) == -1, "a line without a password");
    CHECK(credentials_parse("# nothing\n", "f", &c, err, sizeof err) == -1 && strstr(err, "no credentials"), "%s", err);
}

int main(int argc, char **argv) {
    if (argc > 1) dir = argv[1];
    physiology_stays_within_bounds();
    same_seed_same_patient();
    sepsis_scenario_is_followed();
    probe_off_removes_hr_and_spo2_for_its_window();
    every_shipped_scenario_parses();
    malformed_scenarios_name_their_line();
    payloads_follow_the_contract();
    credentials_files_are_read_and_refused_clearly();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
