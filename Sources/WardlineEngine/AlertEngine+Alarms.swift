import WardlineCore

/// Opening, updating and closing alarms; acknowledgement, restart and discharge.
extension AlertEngine {
    /// The condition of `rule` holds: raise its alarm, or update the open one (never a duplicate).
    /// Device rules ("device.…") have one alarm per device; the others one per patient, whichever
    /// device measured.
    func conditionHolds(_ p: PatientState, rule: String, device: String?, category: AlarmCategory, vital: Vital?,
                        priority: AlarmPriority, value: Double?, threshold: Double?, since: Int64, readingTime: Int64?,
                        now: Int64, into events: inout [EngineEvent], message: @autoclosure () -> String) {
        p.lastActivity = now
        let latching = configuration.latchingPriorities.contains(priority)
        let key = TechnicalRule.isPerDevice(rule) ? device : nil
        if let i = p.openAlarmIndex(rule: rule, device: key) {
            p.alarms[i].lastEvidenceAt = now
            let changes = priority > p.alarms[i].alarm.priority || !p.alarms[i].alarm.conditionPresent
            if let t = p.alarms[i].alarm.conditionConfirmed(priority: priority, latching: latching, value: value,
                                                            threshold: threshold, message: changes ? message() : nil,
                                                            readingTime: readingTime, at: now) {
                events.append(EngineEvent(p.alarms[i].alarm, t))
            }
            return
        }
        let seed = AlarmIDSeed(patientID: p.patientID, deviceID: device, ruleID: rule, category: category, raisedAt: now)
        var alarm = Alarm(id: nextAlarmID(seed), patientID: p.patientID, deviceID: device, ruleID: rule,
                          category: category, vital: vital, priority: priority, latching: latching, message: message(),
                          value: value, threshold: threshold, conditionSince: since, raisedAt: now)
        alarm.ruleSet = configuration.ruleSetVersion
        p.alarms.append(OpenAlarm(alarm: alarm, lastEvidenceAt: now))
        alarmIndex[alarm.id] = p.key
        events.append(.alarmRaised(alarm, alarm.raisedTransition(readingTime: readingTime)))
    }

    /// The condition of `rule` no longer holds: resolve its alarm, or latch it.
    func conditionGone(_ p: PatientState, rule: String, device: String?, value: Double?, readingTime: Int64?,
                       now: Int64, into events: inout [EngineEvent]) {
        guard !p.alarms.isEmpty, let i = p.openAlarmIndex(rule: rule, device: TechnicalRule.isPerDevice(rule) ? device : nil),
              let t = p.alarms[i].alarm.conditionCleared(value: value, readingTime: readingTime, at: now) else { return }
        events.append(EngineEvent(p.alarms[i].alarm, t))
        closeIfResolved(p, at: i)
    }

    func closeIfResolved(_ p: PatientState, at i: Int) {
        guard p.alarms[i].alarm.state == .resolved else { return }
        alarmIndex[p.alarms[i].alarm.id] = nil
        p.alarms.remove(at: i)
    }

    /// Resolves every open alarm of `p` that `matching` selects, for a reason outside its condition.
    func resolveAll(_ p: PatientState, _ reason: AlarmTransition.Resolution, now: Int64, into events: inout [EngineEvent],
                    matching: (Alarm) -> Bool) {
        var i = 0
        while i < p.alarms.count {
            guard matching(p.alarms[i].alarm), let t = p.alarms[i].alarm.resolve(reason, at: now) else { i += 1; continue }
            events.append(EngineEvent(p.alarms[i].alarm, t))
            closeIfResolved(p, at: i)
        }
    }

    // MARK: Commands

    /// A clinician acknowledges an open alarm. Acknowledging a latched alarm (its condition already
    /// gone) resolves it too, so the events are then the acknowledgement and the resolution.
    public func acknowledge(alarmID: String, by user: String, now: Int64) throws(AcknowledgementError) -> [EngineEvent] {
        guard let key = alarmIndex[alarmID], let p = patients[key],
              let i = p.alarms.firstIndex(where: { $0.alarm.id == alarmID }) else { throw .notOpen(alarmID: alarmID) }
        let t = try p.alarms[i].alarm.acknowledge(by: user, at: now)
        var events = [EngineEvent(p.alarms[i].alarm, t)]
        if !p.alarms[i].alarm.conditionPresent,
           let r = p.alarms[i].alarm.resolve(.acknowledgedAfterRecovery, by: user, at: now) {
            events.append(EngineEvent(p.alarms[i].alarm, r))
            closeIfResolved(p, at: i)
        }
        return events
    }

    /// Reloads the alarms that were open before a restart, so they are updated, acknowledged and
    /// resolved as before and never raised a second time. Resolved ones are ignored. Call it
    /// before the first `process`.
    public func restore(openAlarms: [Alarm], now: Int64) {
        for var alarm in openAlarms where alarm.isOpen && alarmIndex[alarm.id] == nil {
            let key = alarm.patientID ?? "device:" + (alarm.deviceID ?? "")
            let p = alarm.patientID.map { state(for: $0, now: now) } ?? deviceState(key: key, now: now)
            let known = alarm.category == .technical || alarm.ruleID == "news2" || alarm.ruleID.hasPrefix("disagree.")
                || p.rules.contains { $0.id == alarm.ruleID } || configuration.anomalyRules.contains { $0.id == alarm.ruleID }
            // A rule that no longer exists can never clear its alarm: acknowledging it ends it.
            if !known { alarm.conditionPresent = false }
            if alarm.category == .technical, let device = alarm.deviceID, let patient = alarm.patientID {
                var watch = devices[device] ?? DeviceWatch(patientID: patient, now: now)
                if alarm.ruleID == TechnicalRule.offline { watch.restore(.offline) }
                if alarm.ruleID == TechnicalRule.stale { watch.restore(.stale) }
                if alarm.ruleID == TechnicalRule.clock { watch.restore(.clock) }
                devices[device] = watch
            }
            p.alarms.append(OpenAlarm(alarm: alarm, lastEvidenceAt: now))
            alarmIndex[alarm.id] = p.key
        }
    }

    /// The patient has left: every open alarm resolves, their devices are unassigned, and their
    /// state and settings are forgotten.
    public func dischargePatient(_ patientID: String, now: Int64) -> [EngineEvent] {
        var events: [EngineEvent] = []
        if let p = patients[patientID] {
            resolveAll(p, .patientDischarged, now: now, into: &events) { _ in true }
        }
        patients[patientID] = nil
        settings[patientID] = nil
        for (id, watch) in devices where watch.patientID == patientID { devices[id] = nil }
        return events
    }

    // MARK: Queries

    /// Every open alarm, or those of one patient, oldest first.
    public func openAlarms(patientID: String? = nil) -> [Alarm] {
        let states = patientID.map { patients[$0].map { [$0] } ?? [] } ?? Array(patients.values)
        return states.flatMap { $0.alarms.map(\.alarm) }.sorted { ($0.raisedAt, $0.id) < ($1.raisedAt, $1.id) }
    }

    public func alarm(id: String) -> Alarm? {
        guard let key = alarmIndex[id] else { return nil }
        return patients[key]?.alarms.first { $0.alarm.id == id }?.alarm
    }

    /// The patient's NEWS2 as of their last reading.
    public func latestScore(patientID: String) -> News2Score? { patients[patientID]?.lastScore }

    /// The windows of the device that last sent this vital for the patient (each device has its
    /// own, on its own clock).
    public func windowStatistics(patientID: String, vital: Vital) -> WindowStatistics? {
        guard let w = windowedVitals.firstIndex(of: vital), let p = patients[patientID] else { return nil }
        let source = p.sources.filter { $0.latestAt[vital.index] != .min }.max { $0.latestAt[vital.index] < $1.latestAt[vital.index] }
        return source?.windows[w].statistics
    }

    /// Patients with working state (windows, trackers) in memory.
    public var patientCount: Int { patients.count }
    public var openAlarmCount: Int { alarmIndex.count }
}
