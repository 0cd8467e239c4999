/// Header changes plugins made to a request (before it goes upstream) or a response (before it
/// goes to the client), kept as a list applied when the head is written: no header is copied until
/// then, and the bytes live in one buffer reused per request.
///
/// Semantics (proxy-rewrite's and response-rewrite's, nginx's): `add` appends a line and keeps the
/// existing ones; `set` replaces every line of that name (the original's and earlier adds); `remove`
/// drops them all; a later edit of a name overrides earlier ones in that sense. Names compare ASCII
/// case-insensitively.
struct HeaderEdits {
    enum Kind { case add, set, remove }
    struct Edit {
        var kind: Kind
        var name: Range<Int>
        var value: Range<Int>
    }

    private(set) var edits: [Edit] = []
    private(set) var bytes: ByteBuffer

    init() {
        bytes = ByteBuffer(parkedCapacity: 256, limit: 64 * 1024)
    }

    var isEmpty: Bool { edits.isEmpty }

    mutating func reset() {
        edits.removeAll(keepingCapacity: true)
        bytes.clear()
    }

    mutating func deallocate() { bytes.deallocate() }

    /// Records an edit; false when the buffer is full (the edit is not made).
    @discardableResult
    mutating func record(_ kind: Kind, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        let start = bytes.writeIndex
        bytes.append(name)
        let nameEnd = bytes.writeIndex
        bytes.append(value)
        guard !bytes.overflowed else { return false }
        edits.append(Edit(kind: kind, name: start..<nameEnd, value: nameEnd..<bytes.writeIndex))
        return true
    }

    // Ranges index `bytes` from its base: it is only appended to and cleared.
    func name(_ edit: Edit) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes.base + edit.name.lowerBound, count: edit.name.count) }
    func value(_ edit: Edit) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes.base + edit.value.lowerBound, count: edit.value.count) }

    /// Whether an original header named `name` is dropped (a set or remove names it).
    func replaces(_ name: UnsafeRawBufferPointer) -> Bool {
        for edit in edits where edit.kind != .add && Bytes.equalsIgnoringCase(self.name(edit), name) { return true }
        return false
    }

    /// The value a `set`/`add` gives `name` last, if any (for headers the gateway writes itself).
    func lastValue(of name: StaticString) -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        for edit in edits where Bytes.equalsIgnoringCase(self.name(edit), name) {
            found = edit.kind == .remove ? nil : value(edit)
        }
        return found
    }

    /// Appends `Name: value\r\n` for every line the edits add, except names `skipping` refuses.
    func appendLines(to out: inout ByteBuffer, skipping: (UnsafeRawBufferPointer) -> Bool) {
        forEachLine { name, value in
            if skipping(name) { return }
            out.append(name)
            out.append(": ")
            out.append(value)
            out.append("\r\n")
        }
    }

    /// Calls `body(name, value)` for every line the edits add, in order: an add or set that no
    /// later set or remove of the same name undoes. An empty value removes (nginx semantics).
    func forEachLine(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        for i in edits.indices where edits[i].kind != .remove && !edits[i].value.isEmpty {
            let n = name(edits[i])
            var undone = false
            for later in edits[(i + 1)...] where later.kind != .add && Bytes.equalsIgnoringCase(name(later), n) {
                undone = true
                break
            }
            if !undone { body(n, value(edits[i])) }
        }
    }
}
