import WardlineCore

/// Rule ids of the technical alarms. Every rule about one device starts with "device.", and has
/// one open alarm per device.
public enum TechnicalRule {
    public static let offline = "device.offline"
    public static let stale = "device.stale"
    public static let battery = "device.battery"
    /// The device's clock is further from Wardline's than the configured bound.
    public static let clock = "device.clock"
    /// A device's own alert with code `code` (lower case).
    public static func deviceAlert(_ code: String) -> String { "device.alert." + code }

    static func isPerDevice(_ ruleID: String) -> Bool { ruleID.hasPrefix("device.") }
}

/// Devices: their assignment to patients, their status, their own alerts, and the timers.
extension AlertEngine {
    /// What the engine learnt from a reading about its device.
    struct ReadingNote {
        /// The end of a silence or of an offline spell.
        var link: DeviceWatch.Action?
        /// The clock crossing its bound.
        var clock: DeviceWatch.Action?
        var trusted: Bool
    }

    /// Records that `r`'s device sent a reading for its patient. Only single readings measure the
    /// clock: a backlog's timestamps are old by design.
    func noteReading(_ r: Reading, now: Int64, into events: inout [EngineEvent]) -> ReadingNote {
        let limit = configuration.clockOffsetAlarmAbove
        guard let i = devices.index(forKey: r.deviceID) else {
            var watch = DeviceWatch(patientID: r.patientID, now: now)
            let clock = r.isBacklog ? nil : watch.clockObserved(deviceTime: r.time, receivedAt: r.receivedAt, limit: limit)
            devices[r.deviceID] = watch
            return ReadingNote(link: nil, clock: clock, trusted: true)
        }
        if devices.values[i].patientID != r.patientID {
            move(device: r.deviceID, from: devices.values[i].patientID, now: now, into: &events)
            devices.values[i].patientID = r.patientID
        }
        let link = devices.values[i].readingArrived(at: now)
        let clock = r.isBacklog ? nil : devices.values[i].clockObserved(deviceTime: r.time, receivedAt: r.receivedAt, limit: limit)
        return ReadingNote(link: link, clock: clock, trusted: devices.values[i].signalTrusted(at: now))
    }

    /// The measured clock offset of every device that has sent a live reading (ms, positive: ahead).
    public func deviceClockOffsets() -> [String: Int64] {
        var offsets: [String: Int64] = [:]
        offsets.reserveCapacity(devices.count)
        for (id, watch) in devices { if let o = watch.clock.offset { offsets[id] = o } }
        return offsets
    }

    /// Turns a device watch's action into the technical alarm's raise or clear.
    func apply(_ action: DeviceWatch.Action, device: String, patient: String, now: Int64, into events: inout [EngineEvent]) {
        let p = state(for: patient, now: now)
        switch action {
        case .raise(.stale, let since):
            conditionHolds(p, rule: TechnicalRule.stale, device: device, category: .technical, vital: nil,
                           priority: configuration.staleDataPriority, value: nil, threshold: nil, since: since,
                           readingTime: nil, now: now, into: &events,
                           message: "No data from \(device) for \((now - since + configuration.staleDataAfter) / 1000) s")
        case .raise(.offline, let since):
            conditionHolds(p, rule: TechnicalRule.offline, device: device, category: .technical, vital: nil,
                           priority: configuration.offlinePriority, value: nil, threshold: nil, since: since,
                           readingTime: nil, now: now, into: &events, message: "\(device) offline")
        case .raise(.clock, let since):
            let offset = devices[device]?.clock.offset ?? 0
            conditionHolds(p, rule: TechnicalRule.clock, device: device, category: .technical, vital: nil,
                           priority: configuration.clockPriority, value: Double(offset) / 1000,
                           threshold: Double(configuration.clockOffsetAlarmAbove) / 1000, since: since,
                           readingTime: nil, now: now, into: &events,
                           message: "\(device) clock \(offset.magnitude / 1000) s \(offset > 0 ? "fast" : "slow")")
        case .clear(let condition):
            let rule = switch condition {
            case .stale: TechnicalRule.stale
            case .offline: TechnicalRule.offline
            case .clock: TechnicalRule.clock
            }
            conditionGone(p, rule: rule, device: device, value: nil, readingTime: nil, now: now, into: &events)
        }
    }

    /// A device changed patient: its technical alarms on the previous patient end.
    private func move(device: String, from old: String?, now: Int64, into events: inout [EngineEvent]) {
        guard let old, let p = patients[old] else { return }
        p.removeSource(device)
        resolveAll(p, .deviceUnassigned, now: now, into: &events) { $0.deviceID == device && TechnicalRule.isPerDevice($0.ruleID) }
    }

    func processStatus(_ s: DeviceStatus, now: Int64, into events: inout [EngineEvent]) {
        var watch = devices[s.deviceID] ?? DeviceWatch(patientID: nil, now: now)
        var action: DeviceWatch.Action?
        switch s.state {
        case .online: action = watch.statusOnline(at: now)
        case .offline: watch.statusOffline(at: now)
        }
        devices[s.deviceID] = watch
        // Technical alarms go to the patient the device serves; an unassigned device alarms nobody.
        guard let patient = watch.patientID else { return }
        if let action { apply(action, device: s.deviceID, patient: patient, now: now, into: &events) }
        guard let level = s.battery, !level.isNaN else { return }
        let rule = configuration.battery
        let p = state(for: patient, now: now)
        if level < rule.lowBelow {
            let critical = level < rule.criticalBelow
            conditionHolds(p, rule: TechnicalRule.battery, device: s.deviceID, category: .technical, vital: nil,
                           priority: critical ? rule.criticalPriority : rule.lowPriority, value: level,
                           threshold: critical ? rule.criticalBelow : rule.lowBelow, since: now, readingTime: nil,
                           now: now, into: &events, message: "\(s.deviceID) battery \(formatted(level)) %")
        } else if level >= rule.clearAt {
            conditionGone(p, rule: TechnicalRule.battery, device: s.deviceID, value: level, readingTime: nil, now: now,
                          into: &events)
        }
    }

    func processDeviceAlert(_ a: DeviceAlert, now: Int64, into events: inout [EngineEvent]) {
        let code = a.code.lowercased()
        var watch = devices[a.deviceID] ?? DeviceWatch(patientID: a.patientID, now: now)
        if let patient = a.patientID, watch.patientID != patient {
            move(device: a.deviceID, from: watch.patientID, now: now, into: &events)
            watch.patientID = patient
        }
        if configuration.signalLossCodes.contains(code) {
            watch.signalLostUntil = now + configuration.deviceAlertClearAfter
        }
        devices[a.deviceID] = watch
        // The device said so: its alert is raised even when it serves no known patient.
        let p = watch.patientID.map { state(for: $0, now: now) } ?? deviceState(key: "device:" + a.deviceID, now: now)
        let category: AlarmCategory = configuration.physiologicalDeviceAlertCodes.contains(code) ? .physiological : .technical
        conditionHolds(p, rule: TechnicalRule.deviceAlert(code), device: a.deviceID, category: category, vital: nil,
                       priority: a.priority, value: nil, threshold: nil, since: now, readingTime: nil, now: now,
                       into: &events, message: a.message ?? "\(a.deviceID): \(a.code)")
    }

    /// The state holding alarms of a device that serves no patient.
    func deviceState(key: String, now: Int64) -> PatientState {
        if let p = patients[key] { return p }
        let p = PatientState(key: key, patientID: nil, settings: PatientSettings(), rules: [], checks: [],
                             windowCount: 0, anomalyRuleCount: 0, now: now)
        patients[key] = p
        return p
    }

    /// Assigns a device to a patient (admission to a bed), or unassigns it (nil). The device's
    /// technical alarms on its previous patient resolve; a newly assigned device has
    /// `staleDataAfter` to send its first reading.
    public func assign(device: String, to patientID: String?, now: Int64) -> [EngineEvent] {
        var events: [EngineEvent] = []
        let previous = devices[device]?.patientID
        if previous != patientID { move(device: device, from: previous, now: now, into: &events) }
        if let patientID {
            if previous != patientID { devices[device] = DeviceWatch(patientID: patientID, now: now) }
        } else {
            devices[device] = nil
        }
        return events
    }

    /// Runs the timers: offline grace periods, stale data, device alerts that have gone quiet, and
    /// escalations. Call it about once a second; its cost is O(devices + open alarms).
    public func tick(now: Int64) -> [EngineEvent] {
        var events: [EngineEvent] = []
        let c = configuration
        // By index, not `for i in devices.indices`: that view holds the dictionary, so the first
        // watch changed in place copied the whole dictionary, every tick (`perf`: 2 % of a replay).
        // (`apply` adds no device: the indices stay valid.)
        var i = devices.startIndex
        while i != devices.endIndex {
            let actions = devices.values[i].tick(now: now, staleAfter: c.staleDataAfter, offlineGrace: c.offlineGrace)
            if let patient = devices.values[i].patientID {
                for action in actions { apply(action, device: devices.keys[i], patient: patient, now: now, into: &events) }
            }
            devices.formIndex(after: &i)
        }
        for key in Set(alarmIndex.values).sorted() {
            guard let p = patients[key] else { continue }
            var i = 0
            while i < p.alarms.count {
                let open = p.alarms[i]
                if open.alarm.ruleID.hasPrefix("device.alert."), now - open.lastEvidenceAt >= c.deviceAlertClearAfter,
                   let t = p.alarms[i].alarm.conditionCleared(value: nil, readingTime: nil, at: now) {
                    events.append(EngineEvent(p.alarms[i].alarm, t))
                    if p.alarms[i].alarm.state == .resolved { closeIfResolved(p, at: i); continue }
                }
                while let t = p.alarms[i].alarm.escalate(at: now, policy: c.escalation) {
                    events.append(EngineEvent(p.alarms[i].alarm, t))
                }
                i += 1
            }
        }
        forgetIdlePatients(now: now)
        return events
    }

    /// Once a minute, drops the working state of patients with no reading and no open alarm for
    /// `forgetIdlePatientsAfter`, so memory follows the ward's census. Settings stay.
    private func forgetIdlePatients(now: Int64) {
        guard lastSweep == .min || now - lastSweep >= 60_000 else { return }
        lastSweep = now
        let limit = configuration.forgetIdlePatientsAfter
        patients = patients.filter { !$0.value.alarms.isEmpty || now - $0.value.lastActivity <= limit }
        for p in patients.values where p.sources.count > 1 { p.sources.removeAll { now - $0.heardAt > limit } }
        devices = devices.filter { $0.value.patientID != nil || now - $0.value.lastHeardAt <= limit }
    }
}
