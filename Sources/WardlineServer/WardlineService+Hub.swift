import WardlineConfig

extension WardlineService {
    /// `--role hub`.
    func startHub() throws {
        throw ConfigurationError(description: "--role hub is not built yet")
    }
}
