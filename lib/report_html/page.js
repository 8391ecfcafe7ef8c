/* qhil HTML report: builds the page from the run's JSON document, which
 * lib/report_html.c embeds as the element "qhil-run" (application/json).
 * Every piece of data goes into the DOM as text (textContent,
 * createTextNode) or as an attribute value, never as markup. */
"use strict";
(function () {
    var run = JSON.parse(document.getElementById("qhil-run").textContent);
    var SVG = "http://www.w3.org/2000/svg";
    var VERDICTS = ["pass", "fail", "error", "skip"];
    var enc = new TextEncoder();
    /* The timeline's rows and the event kinds each shows. */
    var LANES = [
        ["test", ["test_start", "test_end", "machine_start", "machine_end"]],
        ["steps", ["step_start", "step_end"]],
        ["console", ["console_line"]],
        ["input", ["input"]],
        ["matches", ["match", "fail_match"]],
        ["QMP", ["qmp_command", "qmp_reply", "qmp_event"]],
        ["faults", ["fault"]],
        ["QEMU", ["qemu_warning"]],
        ["failures", ["failure"]],
    ];

    function el(tag, cls, text) {
        var e = document.createElement(tag);
        if (cls) { e.className = cls; }
        if (text !== undefined && text !== null) {
            e.textContent = String(text);
        }
        return e;
    }
    function svg(tag, attrs) {
        var e = document.createElementNS(SVG, tag);
        Object.keys(attrs || {}).forEach(function (k) {
            e.setAttribute(k, String(attrs[k]));
        });
        return e;
    }
    function num(v) { return typeof v === "number" ? v : 0; }
    function dur(ns) {
        ns = num(ns);
        if (ns >= 1e9) { return (ns / 1e9).toFixed(3) + " s"; }
        if (ns >= 1e6) { return (ns / 1e6).toFixed(1) + " ms"; }
        return (ns / 1e3).toFixed(1) + " \u00b5s";
    }
    function str(v) {
        if (v === undefined || v === null) { return ""; }
        return typeof v === "string" ? v : JSON.stringify(v);
    }

    /* One line describing an event, for hovers and the info line. */
    function describe(ev) {
        var s = "+" + dur(ev.wall_ns) + " ";
        if (typeof ev.virtual_ns === "number") {
            s += "(virtual " + dur(ev.virtual_ns) + ") ";
        }
        s += ev.kind;
        if (ev.step) { s += " step " + ev.step + " (line " + ev.line + ")"; }
        switch (ev.kind) {
        case "step_start": s += ": " + str(ev.step_desc); break;
        case "step_end": case "test_end":
            s += ": " + str(ev.verdict) + " in " + dur(ev.duration_ns);
            if (ev.message) { s += ": " + str(ev.message); }
            break;
        case "console_line": case "input":
            s += " [" + str(ev.port) + "]: " + str(ev.text); break;
        case "match": case "fail_match":
            s += " /" + str(ev.pattern) + "/ at " + ev.offset + ": " +
                 str(ev.text);
            break;
        case "qmp_command": case "qmp_reply": case "qmp_event":
            s += ": " + str(ev.message); break;
        case "failure":
            s += ": " + str(ev.verdict) + ": " + str(ev.message); break;
        case "machine_start":
            s += ": pid " + str(ev.pid) + ", QEMU " + str(ev.qemu_version);
            break;
        case "machine_end":
            s += ": " + str(ev.how) + ", status " + str(ev.status);
            if (typeof ev.exit_status === "number") {
                s += ", exit " + ev.exit_status;
            }
            if (typeof ev.signal === "number") {
                s += ", signal " + ev.signal;
            }
            if (ev.stderr_tail) { s += ": " + str(ev.stderr_tail); }
            break;
        case "qemu_warning": s += ": " + str(ev.text); break;
        case "fault": s += ": " + str(ev.fault); break;
        }
        return s;
    }

    /* ---- summary ---- */
    var head = document.getElementById("summary");
    var suite = run.suite || {};
    document.title = "qhil: " + str(suite.name);
    head.appendChild(el("h1", null, "Suite " + str(suite.name)));
    var meta = el("p", "meta");
    meta.appendChild(el("span", null, "file: " + str(suite.file)));
    meta.appendChild(el("span", null, "duration: " + dur(run.duration_ns)));
    if (typeof run.started_unix === "number") {
        meta.appendChild(el("span", null, "started: " +
            new Date(run.started_unix * 1000).toISOString()));
    }
    meta.appendChild(el("span", null, "run folder: " + str(run.run_dir)));
    head.appendChild(meta);
    var counts = el("div", "counts");
    VERDICTS.forEach(function (v) {
        var c = el("div", "count v-" + v);
        var b = el("b", null, num(run.counts[v]));
        b.id = "count-" + v;
        c.appendChild(b);
        c.appendChild(document.createTextNode(v));
        counts.appendChild(c);
    });
    if (num(run.counts.flaky) > 0) {
        /* Passed on a retry: counted in pass, and shown apart. */
        var fc = el("div", "count flaky");
        var fb = el("b", null, num(run.counts.flaky));
        fb.id = "count-flaky";
        fc.appendChild(fb);
        fc.appendChild(document.createTextNode("flaky"));
        counts.appendChild(fc);
    }
    head.appendChild(counts);

    /* ---- the table of tests ---- */
    var main = document.getElementById("tests");
    var filters = el("div", "filters");
    var shown = {pass: true, fail: true, error: true, skip: true};
    VERDICTS.forEach(function (v) {
        var b = el("button", "v-" + v, v + " (" + num(run.counts[v]) + ")");
        b.type = "button";
        b.setAttribute("aria-pressed", "true");
        b.dataset.verdict = v;
        b.addEventListener("click", function () {
            shown[v] = !shown[v];
            b.setAttribute("aria-pressed", shown[v] ? "true" : "false");
            applyFilter();
        });
        filters.appendChild(b);
    });
    /* Pressed: only the tests that passed on a retry. */
    var flakyOnly = false;
    var fbtn = el("button", "flaky", "flaky only (" +
                  num(run.counts.flaky) + ")");
    fbtn.type = "button";
    fbtn.id = "filter-flaky";
    fbtn.setAttribute("aria-pressed", "false");
    fbtn.addEventListener("click", function () {
        flakyOnly = !flakyOnly;
        fbtn.setAttribute("aria-pressed", flakyOnly ? "true" : "false");
        applyFilter();
    });
    filters.appendChild(fbtn);
    var q = el("input");
    q.type = "search";
    q.id = "filter";
    q.placeholder = "filter names and messages";
    q.addEventListener("input", applyFilter);
    filters.appendChild(q);
    /* Tags of the tests (JSON v2), for a filter; "#tag=NAME" in the
     * address picks one, so a filtered view can be linked to. */
    var allTags = [];
    run.tests.forEach(function (t) {
        (Array.isArray(t.tags) ? t.tags : []).forEach(function (g) {
            if (allTags.indexOf(str(g)) < 0) { allTags.push(str(g)); }
        });
    });
    allTags.sort();
    var tagSel = el("select");
    tagSel.id = "tag-filter";
    tagSel.title = "show only the tests with this tag";
    var any = el("option", null, "all tags");
    any.value = "";
    tagSel.appendChild(any);
    allTags.forEach(function (g) {
        var o = el("option", null, "tag: " + g);
        o.value = g;
        tagSel.appendChild(o);
    });
    tagSel.addEventListener("change", applyFilter);
    if (allTags.length) { filters.appendChild(tagSel); }
    main.appendChild(filters);

    var table = el("table");
    table.id = "test-table";
    var thr = el("tr");
    var heads = ["#", "test", "tags", "verdict", "duration", "message"];
    heads.forEach(function (h) {
        thr.appendChild(el("th", null, h));
    });
    var thead = el("thead");
    thead.appendChild(thr);
    table.appendChild(thead);
    var tbody = el("tbody");
    table.appendChild(tbody);
    main.appendChild(table);
    var durTh = thr.children[4];
    durTh.className = "sort";
    durTh.title = "sort by duration";
    var sortDir = 0;
    durTh.addEventListener("click", function () {
        sortDir = sortDir === -1 ? 1 : -1;
        durTh.textContent = "duration " + (sortDir < 0 ? "\u25bc" : "\u25b2");
        rows.slice().sort(function (a, b) {
            return sortDir * (num(a.t.duration_ns) - num(b.t.duration_ns)) ||
                   a.i - b.i;
        }).forEach(function (r) { tbody.appendChild(r.tr); });
    });

    var rows = [];
    var details = el("div");
    details.id = "details";
    main.appendChild(details);

    run.tests.forEach(function (t, i) {
        var tr = el("tr", "test");
        tr.id = "row-" + i;
        tr.dataset.verdict = t.verdict;
        tr.appendChild(el("td", "num", i + 1));
        tr.appendChild(el("td", "name", t.name));
        var tags = (Array.isArray(t.tags) ? t.tags : []).map(str);
        var tagTd = el("td", "tags");
        tags.forEach(function (g) { tagTd.appendChild(el("span", "tag", g)); });
        tr.appendChild(tagTd);
        tr.dataset.tags = tags.join(" ");
        var flag = t.interrupted ? " (interrupted)" :
                   t.not_run ? " (not run)" : "";
        var vtd = el("td", "verdict v-" + t.verdict, t.verdict + flag);
        if (t.flaky === true) {
            tr.dataset.flaky = "true";
            vtd.appendChild(document.createTextNode(" "));
            vtd.appendChild(el("span", "badge flaky",
                               "flaky: attempt " + num(t.attempts)));
        } else if (num(t.attempts) > 1) {
            vtd.appendChild(el("span", "badge retried",
                               num(t.attempts) + " attempts"));
        }
        tr.appendChild(vtd);
        tr.appendChild(el("td", "num", dur(t.duration_ns)));
        tr.appendChild(el("td", "message", str(t.message)));
        tbody.appendChild(tr);
        var sec = buildDetail(t, i);
        details.appendChild(sec);
        tr.addEventListener("click", function () {
            sec.hidden = !sec.hidden;
            if (!sec.hidden) { sec.scrollIntoView(); }
        });
        rows.push({t: t, i: i, tr: tr, sec: sec, tags: tags,
                   hay: (str(t.name) + "\n" + str(t.message)).toLowerCase()});
    });

    function applyFilter() {
        var needle = q.value.toLowerCase();
        var tag = tagSel.value;
        rows.forEach(function (r) {
            r.tr.hidden = !shown[r.t.verdict] ||
                          (flakyOnly && r.t.flaky !== true) ||
                          (needle !== "" && r.hay.indexOf(needle) < 0) ||
                          (tag !== "" && r.tags.indexOf(tag) < 0);
        });
    }

    /* ---- one test ---- */
    function ofKind(evs, kind) {
        return evs.filter(function (e) { return e.kind === kind; });
    }
    function buildDetail(t, i) {
        var evs = Array.isArray(t.events) ? t.events : [];
        var sec = el("section", "detail");
        sec.id = "test-" + i;
        sec.dataset.verdict = t.verdict;
        var tries = Array.isArray(t.previous_attempts) ?
                    t.previous_attempts : [];
        sec.hidden = (t.verdict === "pass" && t.flaky !== true) ||
                     t.verdict === "skip";
        sec.appendChild(el("h2", "v-" + t.verdict,
                           t.name + ": " + t.verdict +
                           (t.flaky === true ? " (flaky)" : "") + " in " +
                           dur(t.duration_ns)));
        if (tries.length) {
            sec.appendChild(attemptList(t, tries, i));
        }
        var lines = consoleLines(evs);
        var failLineId = null;
        var fm = ofKind(evs, "fail_match");
        var failures = ofKind(evs, "failure");
        if (fm.length) {
            failLineId = lineIdAt(lines, fm[0].offset, i);
        } else if (failures.length) {
            failLineId = lineBefore(lines, failures[0].wall_ns, i);
        }
        if (t.verdict === "fail" || t.verdict === "error") {
            sec.appendChild(failureBox(t, fm, failures, failLineId, i));
        }
        if (t.events_dropped) {
            sec.appendChild(el("p", "meta", t.events_dropped +
                               " events were dropped from this test"));
        }
        if (Array.isArray(t.steps) && t.steps.length) {
            sec.appendChild(stepTable(t, i));
        }
        sec.appendChild(timeline(t, evs, lines, i));
        sec.appendChild(consoleView(lines, evs, failLineId, i));
        var ms = ofKind(evs, "machine_start");
        if (ms.length) {
            var d = el("details");
            d.appendChild(el("summary", null, "QEMU " +
                             str(ms[0].qemu_version) + ", pid " +
                             str(ms[0].pid)));
            d.appendChild(el("div", "argv",
                             (ms[0].argv || []).map(str).join(" ")));
            sec.appendChild(d);
        }
        return sec;
    }

    /* A retried test: each earlier attempt with its verdict, failure
     * and console, then a line for the last one (shown below). */
    function attemptList(t, tries, i) {
        var box = el("div", "attempts");
        box.id = "attempts-" + i;
        tries.forEach(function (a, k) {
            var d = el("details", "attempt v-" + str(a.verdict));
            d.id = "attempt-" + i + "-" + (k + 1);
            d.appendChild(el("summary", null, "attempt " + (k + 1) + ": " +
                             str(a.verdict) + " in " + dur(a.duration_ns) +
                             ": " + str(a.message)));
            if (a.step) {
                d.appendChild(el("div", "step", "step " + a.step +
                                 ", line " + a.step_line + ": " +
                                 str(a.step_desc)));
            }
            d.appendChild(el("div", "meta", "console log: " +
                             str(a.console_log)));
            var evs = Array.isArray(a.events) ? a.events : [];
            var pre = el("pre", "console");
            pre.textContent = ofKind(evs, "console_line").map(function (e) {
                return str(e.text);
            }).join("\n");
            d.appendChild(pre);
            box.appendChild(d);
        });
        box.appendChild(el("div", "attempt last v-" + t.verdict,
                           "attempt " + (tries.length + 1) + " (last): " +
                           t.verdict + " in " + dur(t.duration_ns) +
                           (t.message ? ": " + str(t.message) : "") +
                           ", below"));
        return box;
    }

    function failureBox(t, fm, failures, failLineId, i) {
        var box = el("div", "failure");
        box.id = "failure-" + i;
        if (t.step) {
            box.appendChild(el("div", "step", "step " + t.step + ", line " +
                               t.step_line + ": " + str(t.step_desc)));
        }
        box.appendChild(el("div", "msg", str(t.message)));
        fm.forEach(function (e) {
            var d = el("div", "pattern", "fail pattern ");
            d.appendChild(el("code", null, "/" + str(e.pattern) + "/"));
            d.appendChild(document.createTextNode(" matched "));
            d.appendChild(el("code", null, str(e.text)));
            box.appendChild(d);
        });
        /* Every failure (v2: the result's list; v1: the events). */
        var all = Array.isArray(t.failures) ? t.failures : failures;
        if (all.length > 1) {
            var ol = el("ol", "all-failures");
            ol.id = "failures-" + i;
            all.forEach(function (e) {
                var where = e.step ? "step " + e.step + ", line " +
                                     e.line + ": " : "";
                ol.appendChild(el("li", "v-" + str(e.verdict), where +
                                  str(e.verdict) + ": " + str(e.message)));
            });
            box.appendChild(el("div", "more", all.length + " failures:"));
            box.appendChild(ol);
        }
        if (failLineId) {
            var a = el("a", "jump", "jump to failure");
            a.href = "#" + failLineId;
            box.appendChild(a);
        }
        return box;
    }

    /* Each step with its time (v2), the slow ones easy to see. */
    function stepTable(t, i) {
        var wrap = el("div", "steps");
        wrap.appendChild(el("h3", null, "Steps"));
        var tab = el("table", "step-times");
        tab.id = "steps-" + i;
        var h = el("tr");
        ["step", "line", "what", "verdict", "time"].forEach(function (c) {
            h.appendChild(el("th", null, c));
        });
        tab.appendChild(h);
        var most = 1;
        t.steps.forEach(function (st) {
            most = Math.max(most, num(st.duration_ns));
        });
        t.steps.forEach(function (st) {
            var r = el("tr", "v-" + str(st.verdict));
            r.appendChild(el("td", "num", st.step));
            r.appendChild(el("td", "num", st.line));
            r.appendChild(el("td", null, str(st.step_desc)));
            r.appendChild(el("td", "verdict v-" + str(st.verdict),
                             str(st.verdict)));
            var d = el("td", "num", typeof st.duration_ns === "number"
                                        ? dur(st.duration_ns) : "unfinished");
            var bar = el("span", "bar");
            bar.style.width = Math.round(100 * num(st.duration_ns) / most) +
                              "px";
            d.appendChild(bar);
            r.appendChild(d);
            tab.appendChild(r);
        });
        wrap.appendChild(tab);
        return wrap;
    }

    /* Console lines rebuilt from console_line events: pieces of a line
     * cut at 4096 bytes are joined again. */
    function consoleLines(evs) {
        var out = [];
        var open = null;
        evs.forEach(function (e) {
            if (e.kind !== "console_line") { return; }
            var text = str(e.text);
            if (open && open.port === e.port &&
                num(open.offset) + num(open.len) === num(e.offset)) {
                open.text += text;
                open.len += num(e.len);
            } else {
                open = {port: e.port, offset: num(e.offset), len: num(e.len),
                        text: text, wall_ns: e.wall_ns};
                out.push(open);
            }
            if (!e.cut) { open = null; }
        });
        return out;
    }
    function lineId(i, n) { return "t" + i + "-L" + (n + 1); }
    function lineIdAt(lines, offset, i) {
        for (var n = 0; n < lines.length; n++) {
            /* The LF after a line is not in it: offset + len + 1. */
            if (offset >= lines[n].offset &&
                offset <= lines[n].offset + lines[n].len) {
                return lineId(i, n);
            }
        }
        return lines.length ? lineId(i, lines.length - 1) : null;
    }
    function lineBefore(lines, wall, i) {
        var id = null;
        lines.forEach(function (l, n) {
            if (num(l.wall_ns) <= num(wall)) { id = lineId(i, n); }
        });
        return id || (lines.length ? lineId(i, lines.length - 1) : null);
    }

    function timeline(t, evs, lines, i) {
        var wrap = el("div", "tl");
        wrap.appendChild(el("h3", null, "Timeline (wall time)"));
        var end = num(t.duration_ns);
        evs.forEach(function (e) { end = Math.max(end, num(e.wall_ns)); });
        end = end || 1;
        var W = 1000, L = 70, ROW = 18;
        var s = svg("svg", {"class": "timeline", viewBox: "0 0 " + W + " " +
                            (LANES.length * ROW + 20), role: "img"});
        s.id = "timeline-" + i;
        var info = el("div", "tl-info");
        function x(ns) { return L + (W - L - 10) * num(ns) / end; }
        LANES.forEach(function (lane, r) {
            var y = r * ROW + 4;
            var label = svg("text", {"class": "lane", x: 2, y: y + 11});
            label.textContent = lane[0];
            s.appendChild(label);
            s.appendChild(svg("line", {x1: L, x2: W - 10, y1: y + 7,
                                       y2: y + 7, stroke: "#eaeef2"}));
        });
        /* Steps as bars from their start to their end. */
        var starts = {};
        evs.forEach(function (e) {
            if (e.kind === "step_start") { starts[e.step] = e; }
            if (e.kind === "step_end" && starts[e.step]) {
                var x0 = x(starts[e.step].wall_ns);
                var bar = svg("rect", {"class": "k-step-" + e.verdict,
                                       x: x0, y: ROW + 6,
                                       width: Math.max(1, x(e.wall_ns) - x0),
                                       height: 10});
                s.appendChild(bar);
            }
        });
        evs.forEach(function (e, n) {
            var r = -1;
            LANES.forEach(function (lane, k) {
                if (lane[1].indexOf(e.kind) >= 0) { r = k; }
            });
            if (r < 0) { return; }
            var g = svg("g", {"class": "tl-mark", "data-kind": e.kind,
                              "data-event": n});
            var tip = svg("title");
            tip.textContent = describe(e);
            g.appendChild(tip);
            var y = r * ROW + 4;
            var big = e.kind === "failure" || e.kind === "fail_match";
            g.appendChild(svg("rect", {"class": "k-" + e.kind,
                                       x: x(e.wall_ns) - (big ? 2 : 1), y: y,
                                       width: big ? 4 : 2, height: 14}));
            g.addEventListener("mouseenter", function () {
                info.textContent = describe(e);
            });
            if (e.kind === "console_line" || e.kind === "match" ||
                e.kind === "fail_match") {
                g.addEventListener("click", function () {
                    var id = lineIdAt(lines, num(e.offset), i);
                    if (id) { location.hash = id; }
                });
            }
            s.appendChild(g);
        });
        var axis = svg("text", {"class": "lane", x: W - 10,
                                y: LANES.length * ROW + 16,
                                "text-anchor": "end"});
        axis.textContent = dur(end);
        s.appendChild(axis);
        var zero = svg("text", {"class": "lane", x: L,
                                y: LANES.length * ROW + 16});
        zero.textContent = "0";
        s.appendChild(zero);
        wrap.appendChild(s);
        wrap.appendChild(info);
        return wrap;
    }

    /* Byte offset (UTF-8) of each UTF-16 index of s, plus the end. */
    function byteOffsets(s) {
        var at = new Array(s.length + 1);
        var b = 0;
        for (var k = 0; k < s.length; k++) {
            at[k] = b;
            var c = s.charCodeAt(k);
            if (c >= 0xd800 && c <= 0xdbff && k + 1 < s.length) {
                at[k + 1] = b;
                b += 4;
                k++;
            } else {
                b += enc.encode(s[k]).length;
            }
        }
        at[s.length] = b;
        return at;
    }

    function consoleView(lines, evs, failLineId, i) {
        var wrap = el("div", "con");
        var h = el("h3", null, "Console");
        wrap.appendChild(h);
        var bar = el("div", "filters");
        var box = el("input");
        box.type = "search";
        box.className = "console-search";
        box.placeholder = "search the console";
        var hits = el("span", "hits");
        bar.appendChild(box);
        bar.appendChild(hits);
        wrap.appendChild(bar);
        var pre = el("div", "console");
        pre.id = "console-" + i;
        wrap.appendChild(pre);
        var regions = evs.filter(function (e) {
            return e.kind === "match" || e.kind === "fail_match";
        });
        var ports = {};
        lines.forEach(function (l) { ports[l.port] = 1; });
        var manyPorts = Object.keys(ports).length > 1;
        lines.forEach(function (l) { l.at = byteOffsets(l.text); });

        function render(needle) {
            var total = 0;
            pre.textContent = "";
            lines.forEach(function (l, n) {
                var div = el("div", "cl");
                div.id = lineId(i, n);
                div.dataset.offset = l.offset;
                div.appendChild(el("span", "ln", n + 1));
                if (manyPorts) { div.appendChild(el("span", "port", l.port)); }
                var flag = new Array(l.text.length).fill("");
                regions.forEach(function (m) {
                    var lo = num(m.offset) - l.offset;
                    var hi = lo + num(m.len);
                    var cls = m.kind === "match" ? "m" : "f";
                    for (var k = 0; k < l.text.length; k++) {
                        if (l.at[k] >= lo && l.at[k] < hi) { flag[k] = cls; }
                    }
                });
                if (needle) {
                    var low = l.text.toLowerCase();
                    var p = low.indexOf(needle);
                    while (p >= 0) {
                        total++;
                        for (var k = p; k < p + needle.length; k++) {
                            flag[k] = "h";
                        }
                        p = low.indexOf(needle, p + needle.length);
                    }
                }
                var k0 = 0;
                for (var k = 1; k <= l.text.length; k++) {
                    if (k === l.text.length || flag[k] !== flag[k0]) {
                        var part = l.text.slice(k0, k);
                        if (flag[k0]) {
                            div.appendChild(el("span", flag[k0], part));
                        } else {
                            div.appendChild(document.createTextNode(part));
                        }
                        k0 = k;
                    }
                }
                pre.appendChild(div);
            });
            hits.textContent = needle ? total + " hits" : lines.length +
                                                          " lines";
            if (failLineId && document.getElementById(failLineId)) {
                document.getElementById(failLineId).classList.add("current");
            }
        }
        box.addEventListener("input", function () {
            render(box.value.toLowerCase());
            var first = pre.querySelector(".h");
            if (first) { first.scrollIntoView({block: "nearest"}); }
        });
        render("");
        return wrap;
    }

    /* A link to a console line or a test opens its section. */
    function openHash() {
        var id = decodeURIComponent(location.hash.slice(1));
        if (id.indexOf("tag=") === 0) {
            if (allTags.indexOf(id.slice(4)) >= 0) {
                tagSel.value = id.slice(4);
                applyFilter();
            }
            return;
        }
        var target = id && document.getElementById(id);
        if (!target) { return; }
        var sec = target.closest("section.detail");
        if (sec) { sec.hidden = false; }
        target.scrollIntoView({block: "center"});
    }
    window.addEventListener("hashchange", openHash);
    openHash();
    document.body.dataset.ready = "1";
})();
