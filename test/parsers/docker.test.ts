import { describe, it, expect } from "vitest";
import {
  classifyDockerError,
  DOCKER_INSPECT_FORMAT,
  mergeDockerInspect,
  parseComposeLs,
  parseDockerInspect,
  parseDockerLabels,
  parseDockerPs,
  type DockerInspectObs,
} from "../../src/discovery/parsers/docker.js";
import { fixture } from "./fixture.js";

const WEB_ID = "3f1a9c2b77de5e0a1c4b0d6b7f7e0c8a9d2e4f60718293a4b5c6d7e8f9a0b1c2";
const DB_ID = "9cd87474be90c0ffee1234567890abcdef1234567890abcdef1234567890abcd";
const JOB_ID = "d9f5c4922862aa11bb22cc33dd44ee55ff66007788990011223344556677889a";
const EXPORTER_ID = "5b0e7d3c1a2f4e6d8c9b0a1f2e3d4c5b6a7980f1e2d3c4b5a69788766554433a";
const WORKER_ID = "7c2d9e4f1b3a5c6d8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f";

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

  it.each([
    ["Up 8 days (healthy)", "running", "healthy", null],
    ["Up 2 hours (unhealthy)", "running", "unhealthy", null],
    ["Up 4 seconds (health: starting)", "running", "starting", null],
    ["Up 8 days", "running", null, null],
    ["Up 2 hours (Paused)", "paused", null, null],
    ["Exited (0) 3 weeks ago", "exited", null, 0],
    ["Exited (137) 2 days ago", "exited", null, 137],
    ["Restarting (1) 5 seconds ago", "restarting", null, 1],
    ["Created", "created", null, null],
    ["Dead", "dead", null, null],
  ] as const)("Status %j: health and exit code as docker ps shows them", (status, state, health, exitCode) => {
    const [c] = parseDockerPs(JSON.stringify({ ID: "a1", Names: "n", Image: "i", Status: status, Labels: "" }));
    expect(c).toMatchObject({ state, health, exitCode });
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

// The inspect line format is our own (DOCKER_INSPECT_FORMAT): the capture is the
// real docker CLI 28.2.2 rendering it, the constructed cases cover what a stub
// daemon would not produce (control characters, odd values, broken lines).
describe("parseDockerInspect", () => {
  const row = (
    id: string,
    name: string,
    imageId: string,
    restartCount: number,
    exitCode: number,
    health: string | null,
    privileged: boolean,
    networkMode: string,
  ) => ({ id, name, imageId, restartCount, exitCode, health, privileged, networkMode }) satisfies DockerInspectObs;

  it("real CLI output of our template", () => {
    expect(parseDockerInspect(fixture("docker-inspect-fleet-template.txt"))).toEqual([
      row(WEB_ID, "homelab-web-1", "sha256:5ef79149e0ec84a7a9f9284c3f91aa3c20608f8391f5445eabe92ef07dbda03c", 0, 0, "healthy", false, "homelab_default"),
      row(DB_ID, "homelab-db-1", "sha256:b781f3a53e61df916e97056a7e9e1b0f8e6c0c0f3b4c6c59c2f34a0e5f1b2c3d", 1, 0, null, false, "homelab_default"),
      row(JOB_ID, "old-job", "sha256:91ef0af61f39ece4d6710e465df5ff6de6ca6ac1d8d1ad56a8b2b64a4a4e0d1e", 0, 0, null, false, "bridge"),
      row(EXPORTER_ID, "node-exporter", "sha256:1e8a0f2c4d6b8a0c2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d", 2, 0, "starting", true, "host"),
      row(WORKER_ID, "worker", "sha256:c4d2e0f8a6b4c2d0e8f6a4b2c0d8e6f4a2b0c8d6e4f2a0b8c6d4e2f0a8b6c4d2", 42, 137, null, false, `container:${DB_ID}`),
    ]);
  });

  it("the template prints no environment: the stub's Env secrets are not in the capture", () => {
    const input = fixture("docker-engine-inspect.input.json");
    for (const secret of ["stub-secret-never-printed", "stub-token-never-printed"]) {
      expect(input).toContain(secret);
      expect(fixture("docker-inspect-fleet-template.txt")).not.toContain(secret);
    }
    expect(DOCKER_INSPECT_FORMAT).not.toMatch(/\.Config\b|\{\{\s*json\s+\.\s*\}\}|'/);
  });

  it.each([
    [
      "a name with a tab, a newline and a quote",
      '{"id":"c1","name":"/we\\tird\\n\\"x\\"","image":"sha256:1","restarts":0,"exit":0,"health":null,"privileged":false,"network":"bridge"}',
      { id: "c1", name: 'we\tird\n"x"' },
    ],
    [
      "health 'none' (check disabled in the image)",
      '{"id":"c2","name":"/n","image":"sha256:2","restarts":3,"exit":0,"health":"none","privileged":true,"network":"host"}',
      { health: null, privileged: true, restartCount: 3 },
    ],
    [
      "fields of the wrong type",
      '{"id":"c3","name":"","image":7,"restarts":"3","exit":1.5,"health":"unhealthy","privileged":"true","network":null}',
      { name: null, imageId: null, restartCount: null, exitCode: null, health: "unhealthy", privileged: null, networkMode: null },
    ],
    [
      "CRLF line ending",
      '{"id":"c4","name":"/crlf","image":"sha256:4","restarts":1,"exit":2,"health":null,"privileged":false,"network":"default"}\r\n',
      { id: "c4", exitCode: 2, networkMode: "default" },
    ],
  ])("%s", (_label, line, expected) => {
    const [r] = parseDockerInspect(line);
    expect(r).toMatchObject(expected);
  });

  it("keeps the good lines among broken ones, skips rows without an id, and throws only when nothing parses", () => {
    const good = fixture("docker-inspect-fleet-template.txt").split("\n")[0]!;
    expect(parseDockerInspect(`${good}\n{"id":"3f1a9c2b77de5e0a1c4\n["c"]\n{"name":"/no-id"}\n`).map((r) => r.id)).toEqual([WEB_ID]);
    expect(() => parseDockerInspect(fixture("docker-inspect-no-such-container.txt"))).toThrow(/JSON/);
    expect(parseDockerInspect("")).toEqual([]);
    expect(parseDockerInspect('{"name":"/no-id"}')).toEqual([]);
  });
});

describe("mergeDockerInspect", () => {
  const ps = () => parseDockerPs(fixture("docker-ps-all-no-trunc.jsonl"));
  const rows = () => parseDockerInspect(fixture("docker-inspect-fleet-template.txt"));
  const extra = (c: { imageId?: unknown; restartCount?: unknown; health?: unknown; exitCode?: unknown; privileged?: unknown; networkMode?: unknown }) => [
    c.imageId,
    c.restartCount,
    c.health,
    c.exitCode,
    c.privileged,
    c.networkMode,
  ];

  it("adds the inspect fields to the containers ps listed, by full id; inspect rows of unlisted containers are ignored", () => {
    const m = mergeDockerInspect(ps(), rows());
    expect(m.inspected).toBe(3);
    expect(m.containers.map((c) => [c.name, ...extra(c)])).toEqual([
      ["homelab-web-1", "sha256:5ef79149e0ec84a7a9f9284c3f91aa3c20608f8391f5445eabe92ef07dbda03c", 0, "healthy", null, false, "homelab_default"],
      // A running container's State.ExitCode (0) means nothing: null, as ps shows it.
      ["homelab-db-1", "sha256:b781f3a53e61df916e97056a7e9e1b0f8e6c0c0f3b4c6c59c2f34a0e5f1b2c3d", 1, null, null, false, "homelab_default"],
      ["old-job", "sha256:91ef0af61f39ece4d6710e465df5ff6de6ca6ac1d8d1ad56a8b2b64a4a4e0d1e", 0, null, 0, false, "bridge"],
    ]);
    expect(m.containers[0]!.labels["com.docker.compose.project"]).toBe("homelab");
  });

  it("matches a truncated ps by id prefix, and by name when the id does not match", () => {
    const trunc = mergeDockerInspect(parseDockerPs(fixture("docker-ps-all-trunc.jsonl")), rows());
    expect(trunc.inspected).toBe(3);
    expect(trunc.containers.map((c) => c.imageId)).toEqual(mergeDockerInspect(ps(), rows()).containers.map((c) => c.imageId));
    const renamed = ps().map((c) => ({ ...c, id: `${c.id.slice(0, 60)}ffff` }));
    expect(mergeDockerInspect(renamed, rows()).containers.map((c) => c.networkMode)).toEqual(["homelab_default", "homelab_default", "bridge"]);
  });

  it("without inspect data: health and exit code from the ps Status, the rest null", () => {
    const m = mergeDockerInspect(ps(), []);
    expect(m.inspected).toBe(0);
    expect(m.containers.map((c) => [c.name, ...extra(c)])).toEqual([
      ["homelab-web-1", null, null, "healthy", null, null, null],
      ["homelab-db-1", null, null, null, null, null, null],
      ["old-job", null, null, null, 0, null, null],
    ]);
  });

  it("records the same health and exit code with or without inspect, for every state", () => {
    const listed = parseDockerPs(
      [
        { ID: EXPORTER_ID, Names: "node-exporter", Image: "prom/node-exporter:v1.8.2", State: "running", Status: "Up 4 seconds (health: starting)" },
        { ID: WORKER_ID, Names: "worker", Image: "registry.example.com/acme/worker:2.3", State: "restarting", Status: "Restarting (137) 10 seconds ago" },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const withInspect = mergeDockerInspect(listed, rows()).containers;
    const without = mergeDockerInspect(listed, []).containers;
    expect(withInspect.map((c) => [c.health, c.exitCode])).toEqual([
      ["starting", null],
      [null, 137],
    ]);
    expect(without.map((c) => [c.health, c.exitCode])).toEqual(withInspect.map((c) => [c.health, c.exitCode]));
    expect(withInspect.map((c) => [c.restartCount, c.privileged, c.networkMode])).toEqual([
      [2, true, "host"],
      [42, false, `container:${DB_ID}`],
    ]);
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
