import { describe, it, expect } from "vitest";
import { classifyDockerError, parseComposeLs, parseDockerLabels, parseDockerPs } from "../../src/discovery/parsers/docker.js";
import { fixture } from "./fixture.js";

const WEB_ID = "3f1a9c2b77de5e0a1c4b0d6b7f7e0c8a9d2e4f60718293a4b5c6d7e8f9a0b1c2";
const DB_ID = "9cd87474be90c0ffee1234567890abcdef1234567890abcdef1234567890abcd";
const JOB_ID = "d9f5c4922862aa11bb22cc33dd44ee55ff66007788990011223344556677889a";

describe("parseDockerPs", () => {
  it("--no-trunc capture", () => {
    const cs = parseDockerPs(fixture("docker-ps-all-no-trunc.jsonl"));
    expect(cs.map((c) => [c.id, c.name, c.image, c.state, c.composeProject, c.composeService])).toEqual([
      [WEB_ID, "homelab-web-1", "nginx:1.27", "running", "homelab", "web"],
      [DB_ID, "homelab-db-1", "postgres:16", "running", "homelab", "db"],
      [JOB_ID, "old-job", "alpine:3.20", "exited", null, null],
    ]);
    const web = cs[0];
    expect(web?.status).toBe("Up 8 days (healthy)");
    expect(web?.ports).toBe("0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"); // \u003e decoded
    expect(web?.createdAt).toBe("2025-09-01 08:11:12 +0000 UTC");
    expect({ ...web?.labels }).toEqual({
      "com.docker.compose.config-hash": "9b1d2f0c6a3e",
      "com.docker.compose.container-number": "1",
      "com.docker.compose.depends_on": "db:service_started:false",
      "com.docker.compose.image": "sha256:5ef79149e0ec84a7a9f9284c3f91aa3c20608f8391f5445eabe92ef07dbda03c",
      "com.docker.compose.oneoff": "False",
      "com.docker.compose.project.config_files": "/srv/homelab/compose.yaml",
      "com.docker.compose.project.working_dir": "/srv/homelab",
      "com.docker.compose.project": "homelab",
      "com.docker.compose.service": "web",
      "com.docker.compose.version": "2.36.2",
      maintainer: "NGINX Docker Maintainers <docker-maint@nginx.com>",
    });
    const job = cs[2];
    expect(job?.status).toBe("Exited (0) 3 weeks ago");
    expect(job?.ports).toBeNull();
    expect(Object.keys(job?.labels ?? {})).toEqual([]);
  });

  it("truncated capture parses to the same containers with 12-character ids", () => {
    const full = parseDockerPs(fixture("docker-ps-all-no-trunc.jsonl"));
    const trunc = parseDockerPs(fixture("docker-ps-all-trunc.jsonl"));
    expect(trunc.map((c) => c.id)).toEqual(["3f1a9c2b77de", "9cd87474be90", "d9f5c4922862"]);
    expect(trunc.map((c) => ({ ...c, id: "", labels: { ...c.labels } }))).toEqual(full.map((c) => ({ ...c, id: "", labels: { ...c.labels } })));
  });

  it("first of several Names; State derived from Status on old CLIs; bad lines skipped", () => {
    const text = [
      JSON.stringify({ ID: "abc", Names: "/main,linked/alias", Image: "x", Status: "Up 2 hours (Paused)", Labels: "" }),
      "this is not json",
      JSON.stringify({ ID: "def", Names: "gone", Image: "y", Status: "Exited (137) 2 days ago" }),
      JSON.stringify({ Names: "no-id" }),
      "",
    ].join("\r\n");
    expect(parseDockerPs(text).map((c) => [c.id, c.name, c.state])).toEqual([
      ["abc", "main", "paused"],
      ["def", "gone", "exited"],
    ]);
  });

  it("stores a __proto__ label as data", () => {
    const [c] = parseDockerPs(JSON.stringify({ ID: "a", Names: "n", Image: "i", State: "running", Labels: "__proto__=x,b=1" }));
    expect(c?.labels["__proto__"]).toBe("x");
    expect(c?.labels["b"]).toBe("1");
    expect(Object.getPrototypeOf(c?.labels)).toBeNull();
  });

  it("throws when nothing parses, with a hint for docker CLI < 23's literal 'json'", () => {
    expect(() => parseDockerPs("json\njson\n")).toThrow(/docker CLI < 23/);
    expect(() => parseDockerPs(fixture("docker-ps-no-daemon.txt"))).toThrow(/JSON/);
    expect(parseDockerPs("")).toEqual([]);
  });
});

describe("parseDockerLabels", () => {
  it("keeps commas inside values", () => {
    const labels = parseDockerLabels("description=A privacy-respecting, hackable metasearch engine.,org.opencontainers.image.title=searxng,x=a,b, c");
    expect({ ...labels }).toEqual({
      description: "A privacy-respecting, hackable metasearch engine.",
      "org.opencontainers.image.title": "searxng",
      x: "a,b, c",
    });
  });

  it("keeps '=' inside values and empty values", () => {
    expect({ ...parseDockerLabels("env=A=B,empty=,k/v-1.x=y") }).toEqual({ env: "A=B", empty: "", "k/v-1.x": "y" });
  });
});

describe("classifyDockerError", () => {
  it.each([
    ["docker-ps-no-daemon.txt", "daemon_unreachable"],
    ["docker-ps-permission-denied.txt", "permission_denied"],
  ] as const)("%s -> %s", (file, kind) => {
    expect(classifyDockerError(fixture(file))).toBe(kind);
  });

  it.each([
    ["bash: docker: command not found\n", "not_installed"],
    ["sh: 1: docker: not found\n", "not_installed"],
    ["sh: docker: not found\n", "not_installed"],
    ['error during connect: Get "http://docker.example:2375/v1.47/containers/json": dial tcp: i/o timeout', "daemon_unreachable"],
    ["Error response from daemon: No such container: abc", "error"],
    ["", "error"],
  ] as const)("%j -> %s", (stderr, kind) => {
    expect(classifyDockerError(stderr)).toBe(kind);
  });
});

describe("parseComposeLs", () => {
  it("capture (Compose v5.3.1)", () => {
    const stacks = parseComposeLs(fixture("docker-compose-ls.json"));
    expect(stacks.map((s) => s.name)).toEqual([
      "yellow",
      "yellow-order-103",
      "yellow-order104-migration",
      "yellow-order104-migration2",
      "yellow-order104-migration3",
      "yellow-order104-referee",
    ]);
    expect(stacks.every((s) => s.status === "running(2)")).toBe(true);
    expect(stacks[0]?.configFiles).toEqual(["/mnt/c/Users/user/Documents/Codex/2026-08-14/cl/outputs/yellow/docker-compose.yml"]);
    expect(stacks[2]?.configFiles).toEqual(["C:\\Users\\user\\Documents\\Codex\\2026-08-14\\cl\\outputs\\yellow\\docker-compose.yml"]);
  });

  it("splits several config files, maps N/A to [], skips malformed rows", () => {
    const text = JSON.stringify([
      { Name: "app", Status: "exited(2), running(1)", ConfigFiles: "/srv/app/compose.yaml,/srv/app/compose.override.yaml" },
      { Name: "legacy", Status: "running(1)", ConfigFiles: "N/A" },
      { Status: "running(1)" },
    ]);
    expect(parseComposeLs(text)).toEqual([
      { name: "app", status: "exited(2), running(1)", configFiles: ["/srv/app/compose.yaml", "/srv/app/compose.override.yaml"] },
      { name: "legacy", status: "running(1)", configFiles: [] },
    ]);
  });

  it("[] and empty output give no stacks; non-JSON throws", () => {
    expect(parseComposeLs("[]\n")).toEqual([]);
    expect(parseComposeLs("")).toEqual([]);
    expect(() => parseComposeLs("docker: unknown command: docker compose\n")).toThrow(/JSON/);
  });
});
