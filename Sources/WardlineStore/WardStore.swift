import WardlineWard

/// Patients' wards and beds, and nurses' care assignments (migration 5).
public final class WardStore {
    public let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    public func patients() throws -> [PatientPlace] {
        try db.execute("SELECT patient_id, ward, bed FROM patients ORDER BY ward, bed, patient_id").rows.compactMap { r in
            guard let p = r[0], let w = r[1] else { return nil }
            return PatientPlace(patientID: p, ward: w, bed: r[2])
        }
    }

    public func patient(_ id: String) throws -> PatientPlace? {
        try db.execute("SELECT patient_id, ward, bed FROM patients WHERE patient_id = $1", [id]).rows.first.flatMap { r in
            guard let p = r[0], let w = r[1] else { return nil }
            return PatientPlace(patientID: p, ward: w, bed: r[2])
        }
    }

    /// Admits a patient to a ward and bed, or moves them.
    public func admit(_ p: PatientPlace, by user: String) throws {
        try db.execute("""
            INSERT INTO patients (patient_id, ward, bed, updated_by) VALUES ($1, $2, $3, $4)
            ON CONFLICT (patient_id) DO UPDATE SET ward = excluded.ward, bed = excluded.bed, updated_by = excluded.updated_by
            """, [p.patientID, p.ward, p.bed, user])
    }

    /// Discharges a patient from the ward: their care assignments end with it.
    @discardableResult
    public func discharge(_ patientID: String) throws -> Bool {
        try db.execute("DELETE FROM patients WHERE patient_id = $1", [patientID]).affectedRows > 0
    }

    /// user id → patient ids.
    public func careAssignments() throws -> [(user: String, patient: String)] {
        try db.execute("SELECT user_id, patient_id FROM care_assignments ORDER BY user_id, patient_id").rows.compactMap { r in
            guard let u = r[0], let p = r[1] else { return nil }
            return (u, p)
        }
    }

    public func assignCare(user: String, patient: String, by: String) throws {
        try db.execute("""
            INSERT INTO care_assignments (user_id, patient_id, assigned_by) VALUES ($1, $2, $3)
            ON CONFLICT (user_id, patient_id) DO UPDATE SET assigned_by = excluded.assigned_by, assigned_at = now()
            """, [user, patient, by])
    }

    @discardableResult
    public func endCare(user: String, patient: String) throws -> Bool {
        try db.execute("DELETE FROM care_assignments WHERE user_id = $1 AND patient_id = $2", [user, patient]).affectedRows > 0
    }
}
