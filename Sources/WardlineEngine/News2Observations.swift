import WardlineCore

/// The newest value of each NEWS2 parameter one device has sent for one patient, on that device's
/// clock.
///
/// A score uses a value only while it is within the staleness window: a blood pressure taken 40
/// minutes ago still counts with a one-hour window, one from yesterday does not, and then the score
/// lists systolic BP as missing. Ages are measured by `ReadingSource.age`, so no device's clock
/// can make another device's values look old.
struct News2Observations {
    struct Latest<Value> {
        var value: Value
        var time: Int64 = .min

        /// Keeps the newer of the stored value and `new`: a backlog replayed out of order never
        /// replaces a newer observation with an older one. A live value always does: the device's
        /// newest word, even when a reading before it claimed a later time.
        mutating func offer(_ new: Value?, at t: Int64, live: Bool) {
            guard let new, live || t >= time else { return }
            value = new
            time = t
        }

        func fresh(in source: ReadingSource, at now: Int64, within window: Int64) -> Value? {
            time != .min && source.age(of: time, at: now) <= window ? value : nil
        }
    }

    var respirationRate = Latest<Double>(value: 0)
    var spo2 = Latest<Double>(value: 0)
    var onOxygen = Latest<Bool>(value: false)
    var systolicBP = Latest<Double>(value: 0)
    var pulse = Latest<Double>(value: 0)
    var consciousness = Latest<Consciousness>(value: .alert)
    var temperature = Latest<Double>(value: 0)

    mutating func record(_ v: Vitals, at time: Int64, live: Bool) {
        respirationRate.offer(Vital.respiratoryRate.value(in: v), at: time, live: live)
        spo2.offer(Vital.spo2.value(in: v), at: time, live: live)
        onOxygen.offer(v.onOxygen, at: time, live: live)
        systolicBP.offer(Vital.systolicBP.value(in: v), at: time, live: live)
        pulse.offer(Vital.heartRate.value(in: v), at: time, live: live)
        consciousness.offer(v.consciousness, at: time, live: live)
        temperature.offer(Vital.temperature.value(in: v), at: time, live: live)
    }

    /// The patient's score at engine time `now` from every device's values no older than
    /// `staleness`. Where two devices both have a fresh value of one parameter, the one scoring
    /// worse counts: a disagreement never lowers the score (the disagreement alarm reports it).
    static func score(_ sources: [ReadingSource], at now: Int64, staleness: Int64, scale: SpO2Scale) -> News2Score {
        if sources.count == 1 {
            let s = sources[0], o = s.observations
            return News2Score(respirationRate: o.respirationRate.fresh(in: s, at: now, within: staleness),
                              spo2: o.spo2.fresh(in: s, at: now, within: staleness),
                              onOxygen: o.onOxygen.fresh(in: s, at: now, within: staleness),
                              systolicBP: o.systolicBP.fresh(in: s, at: now, within: staleness),
                              pulse: o.pulse.fresh(in: s, at: now, within: staleness),
                              consciousness: o.consciousness.fresh(in: s, at: now, within: staleness),
                              temperature: o.temperature.fresh(in: s, at: now, within: staleness),
                              scale: scale)
        }
        var onOxygen: Bool?
        for s in sources {
            if let v = s.observations.onOxygen.fresh(in: s, at: now, within: staleness) { onOxygen = (onOxygen ?? false) || v }
        }
        var score = News2Score(scale: scale)
        score[.supplementalOxygen] = onOxygen.map(News2Chart.supplementalOxygenScore)
        func worst<V>(_ p: News2Parameter, _ value: (News2Observations) -> Latest<V>, _ points: (V) -> Int) {
            for s in sources {
                guard let v = value(s.observations).fresh(in: s, at: now, within: staleness) else { continue }
                score[p] = max(score[p] ?? -1, points(v))
            }
        }
        worst(.respirationRate, \.respirationRate, News2Chart.respirationScore)
        worst(.oxygenSaturation, \.spo2) { News2Chart.oxygenSaturationScore($0, scale: scale, onOxygen: onOxygen) }
        worst(.systolicBP, \.systolicBP, News2Chart.systolicScore)
        worst(.pulse, \.pulse, News2Chart.pulseScore)
        worst(.consciousness, \.consciousness, News2Chart.consciousnessScore)
        worst(.temperature, \.temperature, News2Chart.temperatureScore)
        return score
    }
}
