import Foundation

/// What the task worker reads from the database: an alarm's state now, and the ward summary.
public final class TaskQueries {
    public let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    public struct AlarmNow: Sendable {
        public var state: String
        public var activeSince: Int64
        public var acknowledgedBy: String?
    }

    /// The alarm as it stands (nil: no such alarm).
    public func alarm(_ id: String) throws -> AlarmNow? {
        guard let r = try db.execute("""
            SELECT state, \(AlarmStore.millis("active_since")), acknowledged_by FROM alerts WHERE id = $1
            """, [id]).rows.first, let state = r[0], let since = r[1].flatMap(Int64.init) else { return nil }
        return AlarmNow(state: state, activeSince: since, acknowledgedBy: r[2])
    }

    public struct WardLine: Sendable, Codable {
        public var ward: String
        public var raised: Int
        public var high: Int
        public var acknowledged: Int
        public var escalated: Int
        /// Median time from raise to acknowledgement, seconds (nil: none acknowledged).
        public var medianSecondsToAcknowledge: Double?

        enum CodingKeys: String, CodingKey {
            case ward, raised, high, acknowledged, escalated, medianSecondsToAcknowledge = "median_s_to_ack"
        }
    }

    /// Alarms raised in the 24 hours before `end` (epoch ms), per ward: the ward the patient is
    /// admitted to (`patients`), else the ward of their device's latest assignment, else "unassigned".
    public func wardSummary(end: Int64) throws -> [WardLine] {
        try db.execute("""
            WITH period AS (SELECT timestamptz 'epoch' + $1::bigint * interval '1 millisecond' AS end_at),
            ward_of AS (SELECT DISTINCT ON (patient_id) patient_id, ward FROM device_assignments
                        ORDER BY patient_id, (discharged_at IS NULL) DESC, admitted_at DESC)
            SELECT coalesce(pt.ward, w.ward, 'unassigned') AS ward, count(*), count(*) FILTER (WHERE a.priority = 'high'),
                   count(*) FILTER (WHERE a.acknowledged_at IS NOT NULL),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM alert_transitions t WHERE t.alert_id = a.id AND t.kind = 'escalated')),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.acknowledged_at - a.raised_at))
            FROM alerts a CROSS JOIN period p LEFT JOIN ward_of w ON w.patient_id = a.patient_id
                 LEFT JOIN patients pt ON pt.patient_id = a.patient_id
            WHERE a.raised_at > p.end_at - interval '24 hours' AND a.raised_at <= p.end_at
            GROUP BY 1 ORDER BY 1
            """, [String(end)]).rows.map { r in
            WardLine(ward: r[0] ?? "unassigned", raised: Int(r[1] ?? "0") ?? 0, high: Int(r[2] ?? "0") ?? 0,
                     acknowledged: Int(r[3] ?? "0") ?? 0, escalated: Int(r[4] ?? "0") ?? 0,
                     medianSecondsToAcknowledge: r[5].flatMap(Double.init))
        }
    }
}
