/// A patient's vitals per device and minute over a range, from the rollups where they are
/// complete and from the raw readings where they are not: minutes at or after the watermark's
/// minute, the range's partial first and last minutes, and minutes holding a reading received
/// after the watermark (a late reading, a device clock behind) come from `vitals`, whole, never
/// half from each. Shared by the history (`HistoryQueries.vitals`) and the FHIR hourly means.
enum RollupMinutes {
    /// The CTEs `wm`, `late` and `minutes` (t, device_id, n, then <vital>_n, _min, _avg, _max
    /// per vital in `HistoryQueries.vitalColumns`), for patient $1 and the range [$2, $3) in ms,
    /// with the watermark (ms, or NULL before the first rollup) as parameter `$<watermark>`. The
    /// caller reads it first (`RollupStore.watermark`) so the planner sees its value and finds the
    /// few rows received after it through the BRIN index, not by reading the patient's range.
    static func cte(watermark: Int) -> String {
        let v = HistoryQueries.vitalColumns
        let rollupColumns = v.map { "r.\($0)_n, r.\($0)_min, r.\($0)_avg, r.\($0)_max" }.joined(separator: ", ")
        let rawAggregates = v.map { "count(x.\($0)), min(x.\($0)), avg(x.\($0)), max(x.\($0))" }.joined(separator: ", ")
        let from = "timestamptz 'epoch' + $2::bigint * interval '1 millisecond'"
        let to = "timestamptz 'epoch' + $3::bigint * interval '1 millisecond'"
        let minute = "time_bucket(interval '1 minute', x.time)"
        return """
            wm AS (
                SELECT coalesce(w, '-infinity') AS through, coalesce(time_bucket(interval '1 minute', w), '-infinity') AS cut
                FROM (SELECT timestamptz 'epoch' + $\(watermark)::bigint * interval '1 millisecond' AS w) given
            ), late AS (
                SELECT DISTINCT v.device_id, time_bucket(interval '1 minute', v.time) AS m
                FROM vitals v, wm
                WHERE v.patient_id = $1
                  AND v.received_at > coalesce(timestamptz 'epoch' + $\(watermark)::bigint * interval '1 millisecond', '-infinity')
                  AND v.time >= \(from) AND v.time < least(\(to), wm.cut)
            ), minutes AS (
                SELECT r.bucket AS t, r.device_id, r.n, \(rollupColumns)
                FROM vitals_1m r, wm
                WHERE r.patient_id = $1 AND r.bucket >= \(from) AND r.bucket + interval '1 minute' <= least(\(to), wm.cut)
                  AND NOT EXISTS (SELECT 1 FROM late l WHERE l.device_id = r.device_id AND l.m = r.bucket)
                UNION ALL
                SELECT \(minute), x.device_id, count(*), \(rawAggregates)
                FROM vitals x, wm
                WHERE x.patient_id = $1 AND x.time >= \(from) AND x.time < \(to)
                  AND (x.time >= wm.cut OR \(minute) < \(from) OR \(minute) + interval '1 minute' > \(to)
                       OR (x.device_id, \(minute)) IN (SELECT device_id, m FROM late))
                GROUP BY 1, 2
            )
            """
    }

    /// count, min, weighted mean, max of `vital` over the minutes grouped.
    static func spread(_ vital: String) -> String {
        "sum(\(vital)_n), min(\(vital)_min), sum(\(vital)_avg * \(vital)_n) / nullif(sum(\(vital)_n), 0), max(\(vital)_max)"
    }
}
