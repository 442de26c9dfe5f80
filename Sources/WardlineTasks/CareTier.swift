import Foundation

/// Who is paged, in escalation order: the on-call clinician first, then — while nobody
/// acknowledges — the charge nurse, the physician, and the rapid response team.
public enum CareTier: String, Codable, Sendable, CaseIterable, Comparable {
    case onCall = "on_call"
    case chargeNurse = "charge_nurse"
    case physician
    case rapidResponse = "rapid_response"

    /// The tier an unanswered page at this tier escalates to; nil after the rapid response team.
    public var next: CareTier? {
        let all = Self.allCases
        let i = all.firstIndex(of: self)!
        return i + 1 < all.count ? all[i + 1] : nil
    }

    /// 0 for the on-call clinician, 1 for the first escalation, …
    public var level: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (a: CareTier, b: CareTier) -> Bool { a.level < b.level }
}

/// Pager ids per tier, from the configuration (`WARDLINE_ONCALL_*`, comma-separated).
public struct OnCallRoster: Sendable, Equatable {
    public var pagers: [CareTier: [String]]

    public init(pagers: [CareTier: [String]]) { self.pagers = pagers }

    /// Parses "a, b,,c" into ["a", "b", "c"].
    public static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public func recipients(_ tier: CareTier) -> [String] { pagers[tier] ?? [] }
}
