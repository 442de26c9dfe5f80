/// Builds a buffer in PostgreSQL's COPY text format: tab-separated columns, `\N` for NULL,
/// backslash escapes for the characters the format reserves.
struct CopyText {
    private(set) var bytes: [UInt8] = []
    private var firstColumn = true

    init(reserving capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func column(_ value: String?) {
        separate()
        guard let value else { bytes.append(contentsOf: [0x5C, 0x4E]); return }
        for b in value.utf8 {
            switch b {
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            case 0x00: bytes.append(contentsOf: [0xEF, 0xBF, 0xBD])  // text columns cannot hold NUL
            default: bytes.append(b)
            }
        }
    }

    mutating func column(_ value: Int64?) {
        guard let value else { column(nil as String?); return }
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func column(_ value: Double?) {
        guard let value else { column(nil as String?); return }
        separate()
        bytes.append(contentsOf: value.description.utf8)
    }

    mutating func column(_ value: Bool?) {
        guard let value else { column(nil as String?); return }
        separate()
        bytes.append(value ? 0x74 : 0x66)
    }

    mutating func endRow() {
        bytes.append(0x0A)
        firstColumn = true
    }

    private mutating func separate() {
        if !firstColumn { bytes.append(0x09) }
        firstColumn = false
    }
}
