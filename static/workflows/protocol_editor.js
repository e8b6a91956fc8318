/* Protocol editor: each action's parameters as a form built from its type's JSON Schema.
 *
 * The schemas, with each parameter's label and unit worded by the server, come from the page
 * (#action-type-registry). For every action row the parameters textarea (what is saved) is
 * hidden behind a small form: a number box with its unit and bounds, a list for a fixed set of
 * values, a tick box for yes/no, a text box otherwise. Every edit writes the JSON back into the
 * textarea. Choosing another type rebuilds the form, keeping the values of parameters both types
 * share and filling the new type's defaults. "Edit as JSON" shows the textarea itself. Rows added
 * later (new actions, new steps) get their form when they appear. The server checks everything
 * again on save and words its errors in plain language. */
"use strict";
(function () {
    let registryCache = null;

    function registry() {
        if (registryCache === null) {
            const node = document.getElementById("action-type-registry");
            registryCache = node ? JSON.parse(node.textContent) : {};
        }
        return registryCache;
    }

    function element(tag, attributes, text) {
        const node = document.createElement(tag);
        Object.entries(attributes || {}).forEach(function ([name, value]) {
            if (value !== undefined && value !== null) { node.setAttribute(name, value); }
        });
        if (text !== undefined) { node.textContent = text; }
        return node;
    }

    function isTemplate(node) {
        return !node.name || node.name.includes("__prefix__") || node.name.includes("-empty-");
    }

    function typeSelect(textarea) {
        return document.getElementById(textarea.id.replace(/parameters$/, "action_type"));
    }

    function parse(text) {
        const trimmed = (text || "").trim();
        if (trimmed === "" || trimmed === "null") { return {}; }
        try {
            const value = JSON.parse(trimmed);
            return value !== null && typeof value === "object" && !Array.isArray(value) ? value : undefined;
        } catch (error) {
            return undefined;
        }
    }

    function valueText(value) {
        if (Array.isArray(value)) { return value.join(", "); }
        if (typeof value === "boolean") { return value ? "yes" : "no"; }
        return String(value);
    }

    function withUnit(value, unit) {
        return unit ? valueText(value) + " " + unit : valueText(value);
    }

    /* "4 to 45 °C · default 37", "more than 0, at most 50000 µL · microlitres" */
    function hint(spec, unit) {
        const bounds = [];
        if (spec.minimum !== undefined && spec.maximum !== undefined) {
            bounds.push(spec.minimum + " to " + spec.maximum);
        } else {
            if (spec.minimum !== undefined) { bounds.push("at least " + spec.minimum); }
            if (spec.maximum !== undefined) { bounds.push("at most " + spec.maximum); }
        }
        if (spec.exclusiveMinimum !== undefined) { bounds.unshift("more than " + spec.exclusiveMinimum); }
        if (spec.exclusiveMaximum !== undefined) { bounds.push("less than " + spec.exclusiveMaximum); }
        const parts = [];
        if (bounds.length) { parts.push(bounds.join(", ") + (unit ? " " + unit : "")); }
        if (spec.type === "array") { parts.push("separate items with commas"); }
        if (spec.default !== undefined) { parts.push("default " + valueText(spec.default)); }
        if (spec.description) { parts.push(spec.description); }
        return parts.join(" · ");
    }

    function kindOf(spec) {
        if (Array.isArray(spec.enum)) { return "choice"; }
        if (spec.type === "number" || spec.type === "integer") { return "number"; }
        if (spec.type === "boolean") { return "boolean"; }
        if (spec.type === "string") { return "text"; }
        if (spec.type === "array" && spec.items && ["string", "number", "integer"].includes(spec.items.type)) {
            return "list";
        }
        return "json";
    }

    /* Does a value already there fit the kind of input (else it is shown as JSON, not dropped)? */
    function fits(kind, spec, value) {
        if (value === undefined) { return true; }
        if (kind === "choice") { return spec.enum.some(function (c) { return JSON.stringify(c) === JSON.stringify(value); }); }
        if (kind === "number") { return typeof value === "number"; }
        if (kind === "boolean") { return typeof value === "boolean"; }
        if (kind === "text") { return typeof value === "string"; }
        if (kind === "list") {
            const wanted = spec.items.type === "string" ? "string" : "number";
            return Array.isArray(value) && value.every(function (item) {
                return typeof item === wanted && (wanted !== "string" || !item.includes(","));
            });
        }
        return true;
    }

    /* One input for one parameter; ``read`` gives its value (undefined: leave it out). */
    function control(id, spec, value) {
        const kind = fits(kindOf(spec), spec, value) ? kindOf(spec) : "json";
        let input;
        let read;
        if (kind === "choice") {
            input = element("select", {id: id});
            input.appendChild(element("option", {value: ""}, "—"));
            spec.enum.forEach(function (choice, index) {
                const option = element("option", {value: String(index)}, valueText(choice));
                if (value !== undefined && JSON.stringify(choice) === JSON.stringify(value)) { option.selected = true; }
                input.appendChild(option);
            });
            read = function () { return input.value === "" ? undefined : spec.enum[Number(input.value)]; };
        } else if (kind === "number") {
            input = element("input", {
                id: id, type: "number", step: spec.type === "integer" ? "1" : "any",
                placeholder: spec.default !== undefined ? String(spec.default) : "",
            });
            if (value !== undefined) { input.value = String(value); }
            read = function () { return input.value.trim() === "" ? undefined : Number(input.value); };
        } else if (kind === "boolean") {
            input = element("input", {id: id, type: "checkbox"});
            input.checked = value === true;
            read = function () { return input.checked; };
        } else if (kind === "text" || kind === "list") {
            input = element("input", {
                id: id, type: "text",
                placeholder: spec.default !== undefined ? valueText(spec.default) : "",
            });
            if (value !== undefined) { input.value = kind === "list" && Array.isArray(value) ? value.join(", ") : String(value); }
            read = function () {
                const text = input.value.trim();
                if (text === "") { return undefined; }
                if (kind === "text") { return input.value; }
                const items = text.split(",").map(function (item) { return item.trim(); }).filter(Boolean);
                return spec.items.type === "string" ? items : items.map(Number);
            };
        } else {
            input = element("textarea", {id: id, rows: "1", class: "action-parameter-json"});
            if (value !== undefined) { input.value = JSON.stringify(value); }
            read = function () {
                if (input.value.trim() === "") { return undefined; }
                try {
                    input.classList.remove("invalid");
                    return JSON.parse(input.value);
                } catch (error) {
                    input.classList.add("invalid");
                    return value;  // keeps the last good value until the JSON parses
                }
            };
        }
        return {input: input, read: read};
    }

    function editorOf(textarea) {
        return textarea.closest(".action-parameter-editor");
    }

    function setJsonMode(textarea, json, message) {
        const editor = editorOf(textarea);
        editor.classList.toggle("json-mode", json);
        textarea.hidden = !json;
        editor.querySelector(".action-parameters-toggle").textContent = json ? "Edit as form" : "Edit as JSON";
        editor.querySelector(".action-parameters-note").textContent = message || "";
    }

    /* Rebuild the form from the textarea (and the chosen type). ``typeChanged``: carry values over. */
    function render(textarea, typeChanged) {
        const editor = editorOf(textarea);
        const form = editor.querySelector(".action-parameter-form");
        const select = typeSelect(textarea);
        const entry = select ? registry()[select.value] : undefined;
        form.textContent = "";
        if (!entry) {
            form.appendChild(element("p", {class: "help"}, "Choose an action type to set its parameters."));
            return;
        }
        const current = parse(textarea.value);
        if (current === undefined) {
            setJsonMode(textarea, true, "This is not a JSON object; fix it here, or clear it to use the form.");
            return;
        }
        const properties = entry.schema.properties || {};
        const fields = entry.fields || {};
        const names = Object.keys(fields);
        let values = current;
        const before = registry()[textarea.dataset.typeShown];
        const beforeProperties = (before && before.schema.properties) || {};
        function setByHand(name) {  // a value the previous type's form held that is not just its default
            const spec = beforeProperties[name];
            return current[name] !== undefined
                && !(spec && JSON.stringify(spec.default) === JSON.stringify(current[name]));
        }
        textarea.dataset.typeShown = select.value;
        if (typeChanged || textarea.value.trim() === "" || textarea.value.trim() === "{}") {
            // A new choice: keep what was set by hand and both types take, fill the new type's defaults.
            values = {};
            names.forEach(function (name) {
                if (typeChanged && setByHand(name)) {
                    values[name] = current[name];
                } else if (properties[name] && properties[name].default !== undefined) {
                    values[name] = properties[name].default;
                }
            });
        }
        const kept = typeChanged ? {} : current;  // keys the form does not show survive only an unchanged type
        const readers = [];
        const required = new Set(entry.schema.required || []);
        if (!names.length) {
            form.appendChild(element("p", {class: "help"}, "No parameters."));
        }
        names.forEach(function (name) {
            const spec = properties[name] || {};
            const words = fields[name];
            const id = textarea.id + "-" + name.replace(/[^A-Za-z0-9_-]/g, "_");
            const row = element("div", {class: "action-parameter", "data-parameter": name});
            const label = element("label", {for: id, title: name}, words.label);
            if (required.has(name)) {
                label.classList.add("required");
            }
            const made = control(id, spec, values[name]);
            if (spec.pattern) { made.input.title = "Must match " + spec.pattern; }
            row.appendChild(label);
            const line = element("span", {class: "action-parameter-input"});
            line.appendChild(made.input);
            if (words.unit) { line.appendChild(element("span", {class: "action-parameter-unit"}, words.unit)); }
            row.appendChild(line);
            const help = hint(spec, words.unit);
            if (help) { row.appendChild(element("div", {class: "help action-parameter-hint"}, help)); }
            form.appendChild(row);
            readers.push([name, made.read]);
            made.input.addEventListener("input", function () { write(textarea, readers, kept); });
            made.input.addEventListener("change", function () { write(textarea, readers, kept); });
        });
        const others = Object.keys(current).filter(function (name) { return !(name in properties); });
        if (others.length && !typeChanged) {
            form.appendChild(element("p", {class: "help action-parameter-others"},
                "Also set: " + others.join(", ") + " (not parameters of " + entry.name + "; remove them with “Edit as JSON”)."));
        }
        markErrors(textarea);
        write(textarea, readers, kept);
    }

    /* The form's values into the textarea, in the form's order; keys the form does not show are kept. */
    function write(textarea, readers, original) {
        const shown = new Set(readers.map(function ([name]) { return name; }));
        const result = {};
        readers.forEach(function ([name, read]) {
            const value = read();
            if (value !== undefined) { result[name] = value; }
        });
        Object.keys(original || {}).forEach(function (name) {
            if (!shown.has(name)) { result[name] = original[name]; }
        });
        textarea.value = JSON.stringify(result);
    }

    /* The server's messages name a parameter by its label ("volume must be ..."): mark that row. */
    function markErrors(textarea) {
        const cell = textarea.closest("td") || textarea.parentNode;
        const messages = Array.from(cell.querySelectorAll(".errorlist li")).map(function (li) { return li.textContent; });
        if (!messages.length) { return; }
        editorOf(textarea).querySelectorAll(".action-parameter").forEach(function (row) {
            const label = row.querySelector("label").textContent;
            if (messages.some(function (message) { return message.startsWith(label + " "); })) {
                row.classList.add("errors");
            }
        });
    }

    function setup(textarea) {
        if (textarea.dataset.parameterForm || isTemplate(textarea)) { return; }
        textarea.dataset.parameterForm = "ready";
        const editor = element("div", {class: "action-parameter-editor"});
        editor.appendChild(element("div", {class: "action-parameter-form"}));
        const tools = element("div", {class: "action-parameter-tools"});
        const toggle = element("a", {href: "#", class: "action-parameters-toggle"}, "Edit as JSON");
        tools.appendChild(toggle);
        tools.appendChild(element("span", {class: "help action-parameters-note"}));
        editor.appendChild(tools);
        textarea.parentNode.insertBefore(editor, textarea);
        editor.appendChild(textarea);
        textarea.hidden = true;
        toggle.addEventListener("click", function (event) {
            event.preventDefault();
            if (!editor.classList.contains("json-mode")) {
                setJsonMode(textarea, true, "");
                return;
            }
            if (parse(textarea.value) === undefined) {
                setJsonMode(textarea, true, "This is not a JSON object yet.");
                return;
            }
            setJsonMode(textarea, false, "");
            render(textarea, false);
        });
        render(textarea, false);
    }

    function setupAll(root) {
        (root || document).querySelectorAll("textarea.action-parameters").forEach(setup);
    }

    function ready() {
        setupAll(document);
        // Select2 (the admin's autocomplete) reports choices through jQuery events.
        if (window.django && window.django.jQuery) {
            window.django.jQuery(document).on("change", "select[name$='-action_type']", function () {
                const textarea = document.getElementById(this.id.replace(/action_type$/, "parameters"));
                if (textarea && !isTemplate(textarea)) {
                    setup(textarea);
                    if (!editorOf(textarea).classList.contains("json-mode")) { render(textarea, true); }
                }
            });
        }
        // New action rows (and steps) are cloned from a template by the nested inlines.
        new MutationObserver(function (records) {
            records.forEach(function (record) {
                record.addedNodes.forEach(function (node) {
                    if (node.nodeType === Node.ELEMENT_NODE) {
                        if (node.matches("textarea.action-parameters")) { setup(node); } else { setupAll(node); }
                    }
                });
            });
        }).observe(document.body, {childList: true, subtree: true});
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", ready);
    } else {
        ready();
    }
}());
