import WardlineCore

/// The newest value of each NEWS2 parameter for one patient, whichever device sent it.
///
/// A score uses a value only while it is within the staleness window of the time being scored: a
/// blood pressure taken 40 minutes ago still counts with a one-hour window, one from yesterday
/// does not, and then the score lists systolic BP as missing. Times are the readings' device times.
struct News2Observations {
    struct Latest<Value> {
        var value: Value
        var time: Int64 = .min

        /// Keeps the newer of the stored value and `new`: a backlog replayed out of order never
        /// replaces a newer observation with an older one.
        mutating func offer(_ new: Value?, at t: Int64) {
            guard let new, t >= time else { return }
            value = new
            time = t
        }

        func fresh(at now: Int64, within window: Int64) -> Value? {
            time != .min && now - time <= window ? value : nil
        }
    }

    var respirationRate = Latest<Double>(value: 0)
    var spo2 = Latest<Double>(value: 0)
    var onOxygen = Latest<Bool>(value: false)
    var systolicBP = Latest<Double>(value: 0)
    var pulse = Latest<Double>(value: 0)
    var consciousness = Latest<Consciousness>(value: .alert)
    var temperature = Latest<Double>(value: 0)

    mutating func record(_ v: Vitals, at time: Int64) {
        respirationRate.offer(Vital.respiratoryRate.value(in: v), at: time)
        spo2.offer(Vital.spo2.value(in: v), at: time)
        onOxygen.offer(v.onOxygen, at: time)
        systolicBP.offer(Vital.systolicBP.value(in: v), at: time)
        pulse.offer(Vital.heartRate.value(in: v), at: time)
        consciousness.offer(v.consciousness, at: time)
        temperature.offer(Vital.temperature.value(in: v), at: time)
    }

    /// The score at `time` from the values no older than `staleness` milliseconds.
    func score(at time: Int64, staleness: Int64, scale: SpO2Scale) -> News2Score {
        News2Score(respirationRate: respirationRate.fresh(at: time, within: staleness),
                   spo2: spo2.fresh(at: time, within: staleness),
                   onOxygen: onOxygen.fresh(at: time, within: staleness),
                   systolicBP: systolicBP.fresh(at: time, within: staleness),
                   pulse: pulse.fresh(at: time, within: staleness),
                   consciousness: consciousness.fresh(at: time, within: staleness),
                   temperature: temperature.fresh(at: time, within: staleness),
                   scale: scale)
    }
}
