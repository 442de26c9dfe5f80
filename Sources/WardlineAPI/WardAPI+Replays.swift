import Foundation
import WardlineCore
import WardlineEngine
import WardlineReplay
import WardlineRules

/// Replays of recorded history with a candidate rule set (issue 15), for admins: started with a
/// POST, run in the background (`ReplayJobs`), read back by id. The same comparison as
/// `wardline replay --json`.
extension WardAPI {
    static let replayRoutes: [(Route, Bool, Handler)] = [
        (Route("POST", "/api/v1/replays", "start replay"), true, { api, c, _ in try api.startReplay(c) }),
        (Route("GET", "/api/v1/replays", "replays"), true, { api, c, _ in try api.replays(c) }),
        (Route("GET", "/api/v1/replays/{replay_id}", "replay"), true, { api, c, _ in try api.replay(c) }),
    ]

    /// The longest period one replay covers through the API (`wardline replay` has no bound).
    static let longestReplayMillis: Int64 = 7 * 86_400_000

    func startReplay(_ c: Call) throws -> HTTPResult {
        try authorise(c, .replayRules)
        let jobs = try replayJobs()
        let body = try body(c)
        func time(_ key: String) throws -> Int64 {
            let value: Int64?
            switch body[key] {
            case .string(let s)? where s.utf8.count <= 40: value = ISO8601.parse(s)
            case let v?: value = Self.integer(v).map(Int64.init)
            case nil: throw APIError.validation(key, "is required (ISO 8601 or epoch milliseconds)")
            }
            guard let value, (0...Self.latestReportTime).contains(value) else {
                throw APIError.validation(key, "must be ISO 8601 or epoch milliseconds between 1970 and 9999")
            }
            return value
        }
        let from = try time("from"), to = try time("to")
        guard from < to else { throw APIError.validation("from", "must be before to") }
        guard to - from <= Self.longestReplayMillis else { throw APIError.validation("to", "a replay through the API spans at most 7 days") }
        let ward = try idField(body, "ward", required: false)
        let base = context.rulesInForce()
        guard let candidate = try ruleSet(body, "candidate", base: base) else { throw APIError.validation("candidate", "is required") }
        let inForce = try ruleSet(body, "in_force", base: base) ?? base
        let job = try jobs.start(by: who(c).userID, from: from, to: to, ward: ward, inForce: inForce, candidate: candidate)
        return .data(ReplayBody(job), status: 202, message: "replay started; GET /api/v1/replays/\(job.id) for its result")
    }

    func replays(_ c: Call) throws -> HTTPResult {
        try authorise(c, .replayRules)
        return .data(try replayJobs().all.map { ReplayBody($0, withResult: false) })
    }

    func replay(_ c: Call) throws -> HTTPResult {
        try authorise(c, .replayRules)
        let id = c.param("replay_id")
        guard let job = try replayJobs().job(id) else {
            throw APIError.notFound("no replay \(id) on this node (the last \(try replayJobs().kept) are kept, until a restart)")
        }
        return .data(ReplayBody(job))
    }

    private func replayJobs() throws -> ReplayJobs {
        guard let jobs = context.replays else { throw APIError(503, "replay_unavailable", "this node runs no replays") }
        return jobs
    }

    /// A rule set sent as a JSON object (a `rules/*.json` file's content), checked as
    /// `wardline rules check` does; each problem is a detail naming its path under `key`.
    private func ruleSet(_ body: [String: JSONValue], _ key: String, base: EngineConfiguration) throws -> EngineConfiguration? {
        guard let value = body[key], value != .null else { return nil }
        guard value.object != nil else { throw APIError.validation(key, "must be a rule set (the JSON object of a rules/*.json file)") }
        do {
            var set = try RuleSetDocument.read(JSONText.encode(value, .unordered))
            set.configuration.clockOffsetAlarmAbove = base.clockOffsetAlarmAbove
            return set.configuration
        } catch {
            throw APIError(400, "validation_error", "invalid \(key): the rule set has \(error.problems.count) problem(s)",
                           details: error.problems.prefix(100).map { ["field": $0.path.isEmpty ? key : "\(key).\($0.path)", "problem": $0.message] })
        }
    }
}

/// A replay as the API answers it; `result` once it is done.
struct ReplayBody: Encodable {
    let id: String
    let state: ReplayJobs.State
    let requested_by: String
    let requested_at: Int64
    let from: Int64
    let to: Int64
    let ward: String?
    let in_force_version: String
    let candidate_version: String
    let readings_replayed: Int
    let finished_at: Int64?
    let error: String?
    let result: ReplaySummary?

    init(_ j: ReplayJobs.Job, withResult: Bool = true) {
        id = j.id
        state = j.state
        requested_by = j.requestedBy
        requested_at = j.requestedAt
        from = j.from
        to = j.to
        ward = j.ward
        in_force_version = j.inForce
        candidate_version = j.candidate
        readings_replayed = j.readings
        finished_at = j.finishedAt
        error = j.error
        result = withResult ? j.result : nil
    }
}
