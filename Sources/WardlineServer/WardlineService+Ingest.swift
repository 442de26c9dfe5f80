import WardlineConfig

extension WardlineService {
    /// `--role ingest`.
    func startIngest() throws {
        throw ConfigurationError(description: "--role ingest is not built yet")
    }
}
