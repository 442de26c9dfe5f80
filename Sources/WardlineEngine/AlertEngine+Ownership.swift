extension AlertEngine {
    /// Drops the working state (open alarms included, without events) of every patient whose key
    /// (`PatientPartition.key`: patient id, or `device:<id>`) matches: their partition went to
    /// another engine node, which continues them from the store. Settings stay (they are every
    /// patient's, refreshed from the database).
    public func forgetPatients(where owned: (String) -> Bool) {
        for (key, p) in patients where owned(key) {
            for a in p.alarms { alarmIndex[a.alarm.id] = nil }
            patients[key] = nil
        }
        devices = devices.filter { id, watch in !owned(watch.patientID ?? "device:" + id) }
    }
}
