import Foundation

/// POSTs each notification's JSON to one URL — the usual way into a hospital's paging gateway.
/// A 2xx answer is delivered; anything else is a failure whose reason is the status (and the start
/// of the answer), so a dead letter says what the gateway said.
public final class WebhookChannel: DeliveryChannel {
    public let name: String
    private let url: String
    private let poster: HTTPPoster

    public init(url: String, timeoutMillis: Int, name: String = "webhook") throws {
        self.name = name
        self.url = url
        poster = try HTTPPoster(timeoutMillis: timeoutMillis)
    }

    public func deliver(_ n: ClinicalNotice) throws {
        let response: HTTPResponse
        do { response = try poster.postJSON(url: url, body: n.json, headers: ["X-Wardline-Job-Id: \(n.jobID)"]) } catch {
            throw DeliveryError("webhook \(url): \(error)")
        }
        guard (200..<300).contains(response.status) else {
            let said = response.bodyPrefix.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
            throw DeliveryError("webhook \(url) answered HTTP \(response.status)" + (said.isEmpty ? "" : ": \(said)"))
        }
    }
}
