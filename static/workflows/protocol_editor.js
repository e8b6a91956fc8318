/* Protocol editor: when an action's type is chosen, show what parameters it takes (from its
 * JSON Schema) under the parameters box, and fill in the schema's defaults if the box is empty.
 * The schemas come from the page (#action-type-registry); the server still checks everything. */
"use strict";
(function () {
    function registry() {
        const node = document.getElementById("action-type-registry");
        return node ? JSON.parse(node.textContent) : {};
    }

    function describe(schema) {
        const properties = schema.properties || {};
        const required = new Set(schema.required || []);
        const names = Object.keys(properties);
        if (!names.length) {
            return "No parameters.";
        }
        return "Parameters: " + names.map(function (name) {
            const spec = properties[name] || {};
            const bits = [spec.type || "any"];
            if (required.has(name)) { bits.push("required"); }
            if (spec.minimum !== undefined) { bits.push("≥ " + spec.minimum); }
            if (spec.exclusiveMinimum !== undefined) { bits.push("> " + spec.exclusiveMinimum); }
            if (spec.maximum !== undefined) { bits.push("≤ " + spec.maximum); }
            if (spec.enum) { bits.push("one of " + spec.enum.join(", ")); }
            if (spec.default !== undefined) { bits.push("default " + JSON.stringify(spec.default)); }
            return name + " (" + bits.join(", ") + ")";
        }).join("; ");
    }

    function defaults(schema) {
        const filled = {};
        Object.entries(schema.properties || {}).forEach(function ([name, spec]) {
            if (spec && spec.default !== undefined) { filled[name] = spec.default; }
        });
        return filled;
    }

    function update(select, prefill) {
        const entry = registry()[select.value];
        const textarea = document.getElementById(select.id.replace(/action_type$/, "parameters"));
        if (!textarea) { return; }
        let hint = textarea.parentNode.querySelector(".action-schema-hint");
        if (!hint) {
            hint = document.createElement("div");
            hint.className = "help action-schema-hint";
            textarea.parentNode.appendChild(hint);
        }
        hint.textContent = entry ? describe(entry.schema) : "";
        const current = textarea.value.trim();
        if (entry && prefill && (current === "" || current === "{}")) {
            textarea.value = JSON.stringify(defaults(entry.schema));
        }
    }

    function ready() {
        document.querySelectorAll("select[name$='-action_type']").forEach(function (select) {
            if (!select.name.includes("__prefix__") && !select.name.includes("-empty-")) { update(select, false); }
        });
        // Select2 (the admin's autocomplete) reports choices through jQuery events.
        if (window.django && window.django.jQuery) {
            window.django.jQuery(document).on("change", "select[name$='-action_type']", function () {
                update(this, true);
            });
        }
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", ready);
    } else {
        ready();
    }
}());
