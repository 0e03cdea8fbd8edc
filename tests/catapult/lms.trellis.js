// Trellis's adapter for the CATAPULT cmi5 LMS test suite (lts/): the interface of the suite's
// lib/lms.template.js, implemented over Trellis's trust API (/api/v1). scripts/catapult.sh
// copies it into the suite's lib/ folder as lms.trellis.js and sets:
//
//   TRELLIS_API          the trust's API, e.g. http://northmoor.localhost:18124/api/v1
//   TRELLIS_API_TOKEN    an API token with the courses, launch and conformance scopes
//   LRS_ENDPOINT         the trust's xAPI endpoint, e.g. http://northmoor.localhost:18124/xapi
//   LRS_KEY, LRS_SECRET  an LRS credential that reads the trust's statements
"use strict";

const Wreck = require("@hapi/wreck");
const {InvalidPackageError} = require("./errors");

const need = (k) => {
    if (! process.env[k]) {
        throw new Error(`${k} is not set`);
    }
    return process.env[k];
};
const api = () => need("TRELLIS_API").replace(/\/$/, "");
const bearer = () => `Bearer ${need("TRELLIS_API_TOKEN")}`;
let imported = [];

// One call of the API: the status and the parsed body (a problem document on errors).
const call = async (method, path, {payload, contentType = "application/json"} = {}) => {
    const headers = {Authorization: bearer()};
    if (payload !== undefined) {
        headers["Content-Type"] = contentType;
    }
    const res = await Wreck.request(method, `${api()}${path}`, {headers, payload});
    const text = (await Wreck.read(res)).toString("utf8");
    let body = null;
    try {
        body = text ? JSON.parse(text) : null;
    }
    catch (ex) {
        body = {detail: text};
    }
    return {status: res.statusCode, body};
};

const failed = (what, r) => new Error(`${what}: ${r.status} ${r.body && r.body.detail ? r.body.detail : JSON.stringify(r.body)}`);

module.exports = {
    setup: async () => {
        imported = [];
    },

    teardown: async () => {},

    getLrsEndpoint: () => need("LRS_ENDPOINT").replace(/\/$/, ""),

    getLrsAuthHeader: () => `Basic ${Buffer.from(`${need("LRS_KEY")}:${need("LRS_SECRET")}`).toString("base64")}`,

    // A package the rules refuse is a 4xx problem document (422 with the rule, 415 for a body
    // that is no package at all): that is the suite's InvalidPackageError.
    importCourse: async (stream, contentType, filename) => {
        const payload = await Wreck.read(stream);
        const r = await call("POST", "/courses", {payload, contentType});
        if (r.status === 201) {
            imported.push(r.body.id);
            return r.body.id;
        }
        if ([400, 413, 415, 422].includes(r.status)) {
            throw new InvalidPackageError(`${filename}: ${r.body && r.body.detail}`);
        }
        throw failed(`importing ${filename}`, r);
    },

    getLaunchUrl: async (courseId, auIndex, actor, {registration, launchMode} = {}) => {
        const body = {au_index: auIndex, actor};
        if (registration) {
            body.registration = registration;
        }
        if (launchMode) {
            body.launch_mode = launchMode;
        }
        const r = await call("POST", `/courses/${courseId}/launches`, {payload: JSON.stringify(body)});
        if (r.status !== 201) {
            throw failed("launching", r);
        }
        return r.body.url;
    },

    cleanup: async () => {
        const ids = imported;
        imported = [];
        for (const id of ids) {
            const r = await call("DELETE", `/courses/${id}`);
            if (r.status !== 204 && r.status !== 404) {
                throw failed(`deleting course ${id}`, r);
            }
        }
    },

    hasWaive: () => true,

    waiveAU: async (registration, auIndex, reason) => {
        const r = await call("POST", `/registrations/${registration}/waive`, {payload: JSON.stringify({au_index: auIndex, reason})});
        if (r.status !== 204) {
            throw failed("waiving", r);
        }
    },

    hasAbandon: () => true,

    abandonSession: async (sessionId) => {
        const r = await call("POST", `/sessions/${sessionId}/abandon`);
        if (r.status !== 204) {
            throw failed("abandoning", r);
        }
    }
};
