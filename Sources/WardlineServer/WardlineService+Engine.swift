import WardlineConfig

extension WardlineService {
    /// `--role engine`.
    func startEngine() throws {
        throw ConfigurationError(description: "--role engine is not built yet")
    }
}
