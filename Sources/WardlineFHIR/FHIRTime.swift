/// FHIR `dateTime` written and read without Foundation's calendars: epoch milliseconds in UTC.
public enum FHIRTime {
    /// `2026-12-01T21:32:04.123+00:00`: to the millisecond, with an explicit offset (FHIR wants a
    /// zone on every time of day). Wardline keeps device times in UTC, so the offset is +00:00.
    public static func dateTime(_ millis: Int64) -> String {
        let days = floorDiv(millis, 86_400_000)
        let inDay = millis - days * 86_400_000
        let (y, m, d) = civil(fromDays: days)
        let h = inDay / 3_600_000, min = inDay / 60_000 % 60, s = inDay / 1000 % 60, ms = inDay % 1000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(min, 2)):\(pad(s, 2)).\(pad(ms, 3))+00:00"
    }

    /// The instants a search date covers, [start, end) in epoch ms, at the precision written:
    /// `2026-12-01` is that whole day (in UTC: a date has no zone), `…T10:15Z` that minute,
    /// `…T10:15:30+01:00` that second, `…T10:15:30.250Z` that millisecond. Nil when it is not one
    /// of those (years and months alone are refused too: no EHR needs a vitals search that wide).
    public static func interval(_ s: String) -> (start: Int64, end: Int64)? {
        let b = Array(s.utf8)
        guard b.count >= 10, b.count <= 35, b[4] == 0x2D, b[7] == 0x2D,
              let y = digits(b, 0, 4), let mo = digits(b, 5, 2), let d = digits(b, 8, 2),
              (1...12).contains(mo), d >= 1, d <= daysIn(month: mo, year: y) else { return nil }
        let day = days(fromCivil: y, mo, d) * 86_400_000
        if b.count == 10 { return (day, day + 86_400_000) }
        guard b.count >= 16, b[10] == 0x54, b[13] == 0x3A, let h = digits(b, 11, 2), let mi = digits(b, 14, 2), h <= 23, mi <= 59
        else { return nil }
        var at = day + Int64(h) * 3_600_000 + Int64(mi) * 60_000
        var width: Int64 = 60_000
        var i = 16
        if i < b.count, b[i] == 0x3A {
            guard let sec = digits(b, i + 1, 2), sec <= 59 else { return nil }
            at += Int64(sec) * 1000
            width = 1000
            i += 3
            if i < b.count, b[i] == 0x2E {
                var n = 0, fraction: Int64 = 0
                i += 1
                while i < b.count, let digit = digits(b, i, 1) {
                    if n < 3 { fraction = fraction * 10 + Int64(digit) }
                    n += 1
                    i += 1
                }
                guard n >= 1, n <= 9 else { return nil }
                var scale = n
                while scale < 3 { fraction *= 10; scale += 1 }
                at += fraction
                width = n >= 3 ? 1 : (n == 2 ? 10 : 100)
            }
        }
        // The zone: Z or ±hh:mm, required with a time of day.
        guard i < b.count else { return nil }
        if b[i] == 0x5A {
            guard i + 1 == b.count else { return nil }
        } else {
            guard b[i] == 0x2B || b[i] == 0x2D, i + 6 == b.count, b[i + 3] == 0x3A,
                  let oh = digits(b, i + 1, 2), let om = digits(b, i + 4, 2), oh <= 14, om <= 59 else { return nil }
            let offset = Int64(oh) * 3_600_000 + Int64(om) * 60_000
            at += b[i] == 0x2B ? -offset : offset
        }
        return (at, at + width)
    }

    private static func digits(_ b: [UInt8], _ from: Int, _ n: Int) -> Int? {
        guard from + n <= b.count else { return nil }
        var v = 0
        for c in b[from..<(from + n)] {
            guard c >= 0x30, c <= 0x39 else { return nil }
            v = v * 10 + Int(c - 0x30)
        }
        return v
    }

    private static func pad(_ v: some BinaryInteger, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, day 0 = 1970-01-01).
    private static func days(fromCivil y0: Int, _ m: Int, _ d: Int) -> Int64 {
        let y = Int64(m <= 2 ? y0 - 1 : y0)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = Int64((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1)
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
