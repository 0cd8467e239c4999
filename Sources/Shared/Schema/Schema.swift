// The JSON-schema subset APISIX's schemas use (apisix/schema_def.lua, each plugin's `schema`), as
// a value type built once in code. Validation lives in Schema+validate.swift and reproduces the
// api7/jsonschema library's messages word for word, because Admin API clients match them.

/// A JSON schema (draft 7 subset). Build one with the keyword-named initializer; every keyword
/// left out is absent. Not Equatable: `custom` holds a closure.
package struct Schema: Sendable {
    /// A JSON-schema type name. `integer` is a number without fractional part.
    package enum JSONType: String, Sendable {
        case string, number, integer, boolean, object, array, null
    }

    /// The `format` values APISIX uses.
    package enum Format: String, Sendable {
        /// Dotted quad (`expect valid ipv4 address but got: <value>`).
        case ipv4
        /// RFC 4291 text form (`expect valid ipv6 address but got: <value>`).
        case ipv6
    }

    /// `additionalProperties`.
    package indirect enum AdditionalProperties: Sendable {
        /// `true` or absent.
        case allowed
        /// `false`: `additional properties forbidden, found <name>`.
        case forbidden
        /// A schema every extra member must satisfy.
        case schema(Schema)
    }

    /// `type`: nil accepts any type; several types give `wrong type: expected one of a, b, got c`.
    package var types: [JSONType]?
    /// `properties`, kept sorted by name so that the first failure reported is deterministic
    /// (the Lua library reports in hash order).
    package private(set) var properties: [(name: String, schema: Schema)]
    /// `required`.
    package var required: [String]?
    /// `additionalProperties`. Default: `.allowed`.
    package var additionalProperties: AdditionalProperties
    /// `patternProperties`, sorted by pattern text.
    package private(set) var patternProperties: [(pattern: SchemaPattern, schema: Schema)]
    /// `minProperties`.
    package var minProperties: Int?
    /// `maxProperties`.
    package var maxProperties: Int?
    /// `items` (one schema for every element).
    package var items: Schema? { get { itemsBox.first } set { itemsBox = newValue.map { [$0] } ?? [] } }
    /// `minItems`.
    package var minItems: Int?
    /// `maxItems`.
    package var maxItems: Int?
    /// `uniqueItems`.
    package var uniqueItems: Bool
    /// `minLength`, in characters (code points, as `lib.utf8_len` counts).
    package var minLength: Int?
    /// `maxLength`, in characters.
    package var maxLength: Int?
    /// `pattern` (PCRE search, see `SchemaPattern`).
    package var pattern: SchemaPattern?
    /// `minimum`.
    package var minimum: Double?
    /// `maximum`.
    package var maximum: Double?
    /// `exclusiveMinimum` (a number, draft 6+).
    package var exclusiveMinimum: Double?
    /// `exclusiveMaximum` (a number, draft 6+).
    package var exclusiveMaximum: Double?
    /// `enum`.
    package var enumValues: [JSONValue]?
    /// `allOf`.
    package var allOf: [Schema]?
    /// `anyOf`.
    package var anyOf: [Schema]?
    /// `oneOf`.
    package var oneOf: [Schema]?
    /// `not`.
    package var not: Schema? { get { notBox.first } set { notBox = newValue.map { [$0] } ?? [] } }
    /// `format`.
    package var format: Format?
    /// `default`: filled in by `applyingDefaults(to:)` when the member is absent.
    package var defaultValue: JSONValue?
    /// A check the keywords cannot express (a plugin's own `check_schema` logic), run last; it
    /// returns the error text or nil.
    package var custom: (@Sendable (JSONValue) -> String?)?

    private var itemsBox: [Schema] = []
    private var notBox: [Schema] = []

    /// Builds a schema from its keywords; omitted keywords are absent. `pattern` and the keys of
    /// `patternProperties` must be in `SchemaPattern`'s subset (a programming error otherwise).
    package init(
        type: JSONType? = nil,
        types: [JSONType]? = nil,
        properties: [String: Schema] = [:],
        required: [String]? = nil,
        additionalProperties: AdditionalProperties = .allowed,
        patternProperties: [String: Schema] = [:],
        minProperties: Int? = nil,
        maxProperties: Int? = nil,
        items: Schema? = nil,
        minItems: Int? = nil,
        maxItems: Int? = nil,
        uniqueItems: Bool = false,
        minLength: Int? = nil,
        maxLength: Int? = nil,
        pattern: String? = nil,
        minimum: Double? = nil,
        maximum: Double? = nil,
        exclusiveMinimum: Double? = nil,
        exclusiveMaximum: Double? = nil,
        enumValues: [JSONValue]? = nil,
        allOf: [Schema]? = nil,
        anyOf: [Schema]? = nil,
        oneOf: [Schema]? = nil,
        not: Schema? = nil,
        format: Format? = nil,
        defaultValue: JSONValue? = nil,
        custom: (@Sendable (JSONValue) -> String?)? = nil
    ) {
        self.types = type.map { [$0] } ?? types
        self.properties = properties.sorted { $0.key < $1.key }.map { (name: $0.key, schema: $0.value) }
        self.required = required
        self.additionalProperties = additionalProperties
        self.patternProperties = patternProperties.sorted { $0.key < $1.key }.map {
            guard let compiled = SchemaPattern($0.key) else { preconditionFailure("unsupported pattern \($0.key)") }
            return (pattern: compiled, schema: $0.value)
        }
        self.minProperties = minProperties
        self.maxProperties = maxProperties
        self.minItems = minItems
        self.maxItems = maxItems
        self.uniqueItems = uniqueItems
        self.minLength = minLength
        self.maxLength = maxLength
        if let pattern {
            guard let compiled = SchemaPattern(pattern) else { preconditionFailure("unsupported pattern \(pattern)") }
            self.pattern = compiled
        }
        self.minimum = minimum
        self.maximum = maximum
        self.exclusiveMinimum = exclusiveMinimum
        self.exclusiveMaximum = exclusiveMaximum
        self.enumValues = enumValues
        self.allOf = allOf
        self.anyOf = anyOf
        self.oneOf = oneOf
        self.format = format
        self.defaultValue = defaultValue
        self.custom = custom
        self.items = items
        self.not = not
    }

    /// The schema of property `name`, if declared.
    package func property(_ name: String) -> Schema? {
        properties.first { $0.name == name }?.schema
    }

    /// Adds or replaces property `name` (keeps the sorted order).
    package mutating func setProperty(_ name: String, _ schema: Schema) {
        properties.removeAll { $0.name == name }
        properties.append((name: name, schema: schema))
        properties.sort { $0.name < $1.name }
    }

    /// The schema as JSON, for `GET /apisix/admin/schema/...` style endpoints. `custom` checks
    /// have no JSON form and are left out.
    package var json: JSONValue {
        var out: [String: JSONValue] = [:]
        if let types { out["type"] = types.count == 1 ? .string(types[0].rawValue) : .array(types.map { .string($0.rawValue) }) }
        if !properties.isEmpty {
            out["properties"] = .object(Dictionary(uniqueKeysWithValues: properties.map { ($0.name, $0.schema.json) }))
        }
        if let required { out["required"] = .array(required.map { .string($0) }) }
        switch additionalProperties {
        case .allowed: break
        case .forbidden: out["additionalProperties"] = .bool(false)
        case .schema(let schema): out["additionalProperties"] = schema.json
        }
        if !patternProperties.isEmpty {
            out["patternProperties"] = .object(Dictionary(uniqueKeysWithValues: patternProperties.map { ($0.pattern.source, $0.schema.json) }))
        }
        if let minProperties { out["minProperties"] = .number(Double(minProperties)) }
        if let maxProperties { out["maxProperties"] = .number(Double(maxProperties)) }
        if let items { out["items"] = items.json }
        if let minItems { out["minItems"] = .number(Double(minItems)) }
        if let maxItems { out["maxItems"] = .number(Double(maxItems)) }
        if uniqueItems { out["uniqueItems"] = .bool(true) }
        if let minLength { out["minLength"] = .number(Double(minLength)) }
        if let maxLength { out["maxLength"] = .number(Double(maxLength)) }
        if let pattern { out["pattern"] = .string(pattern.source) }
        if let minimum { out["minimum"] = .number(minimum) }
        if let maximum { out["maximum"] = .number(maximum) }
        if let exclusiveMinimum { out["exclusiveMinimum"] = .number(exclusiveMinimum) }
        if let exclusiveMaximum { out["exclusiveMaximum"] = .number(exclusiveMaximum) }
        if let enumValues { out["enum"] = .array(enumValues) }
        if let allOf { out["allOf"] = .array(allOf.map(\.json)) }
        if let anyOf { out["anyOf"] = .array(anyOf.map(\.json)) }
        if let oneOf { out["oneOf"] = .array(oneOf.map(\.json)) }
        if let not { out["not"] = not.json }
        if let format { out["format"] = .string(format.rawValue) }
        if let defaultValue { out["default"] = defaultValue }
        return .object(out)
    }
}

/// A schema violation, worded as APISIX's jsonschema library words it
/// (`property "timeout" validation failed: expected 99 to be at least 100`).
package struct SchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text, without any `invalid configuration: ` prefix.
    package var message: String
    /// An error with text `message`.
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
