/// The values a vital sign can physically take. Anything outside is a device fault, not a patient
/// state, and is rejected as `impossible_value`. These are deliberately wide: a heart rate of 0 is
/// asystole and must reach the alarm engine, never be filtered out here.
public enum PlausibleRange {
    public static let heartRate: ClosedRange<Double> = 0...350
    public static let spo2: ClosedRange<Double> = 0...100
    public static let temperature: ClosedRange<Double> = 10...46
    public static let respiratoryRate: ClosedRange<Double> = 0...150
    public static let systolicBP: ClosedRange<Double> = 0...350
    public static let diastolicBP: ClosedRange<Double> = 0...300
    public static let battery: ClosedRange<Double> = 0...100
    /// Device clocks earlier than 2000-01-01 are unset clocks, not measurements from 1970.
    public static let earliestTime: Int64 = 946_684_800_000
}
