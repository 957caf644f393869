// A stub Docker Engine API on a unix socket, for running the REAL docker CLI
// (and so the real probe script) against containers we choose: the CLI does the
// template rendering, JSON escaping and error reporting, the stub only answers
// GET /containers/json and GET /containers/{id}/json from the synthetic inputs in
// test/fixtures/docker-engine-{containers-json,inspect}.input.json.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

type Doc = Record<string, unknown>;

export interface DockerStubData {
  /** Engine API ContainerSummary objects (what `docker ps` lists). */
  summaries: Doc[];
  /** Engine API ContainerJSON objects (what `docker inspect` gets), by Id. */
  containers: Doc[];
}

function input(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8"));
}

/** The three containers of the docker ps captures plus two more (privileged host-network exporter, restarting worker). */
export function dockerStubFleet(): DockerStubData {
  const more = input("docker-engine-inspect.input.json") as DockerStubData;
  return { summaries: [...(input("docker-engine-containers-json.input.json") as Doc[]), ...more.summaries], containers: more.containers };
}

export interface DockerStub {
  /** For DOCKER_HOST. */
  host: string;
  /** "METHOD path?query" of every request, in order. */
  requests: string[];
  data: DockerStubData;
  /** Ids still listed by `docker ps` but answered 404 by inspect: removed in between. */
  gone: Set<string>;
  close(): Promise<void>;
}

export async function startDockerStub(data: DockerStubData = dockerStubFleet()): Promise<DockerStub> {
  const dir = mkdtempSync(join(tmpdir(), "fleet-docker-"));
  const socket = join(dir, "docker.sock");
  const requests: string[] = [];
  const gone = new Set<string>();
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? "/", "http://docker");
    const path = url.pathname.replace(/^\/v[0-9.]+(?=\/)/, "");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json", "Api-Version": "1.50", "Docker-Experimental": "false", Ostype: "linux" });
      res.end(JSON.stringify(body) + "\n");
    };
    if (path === "/_ping") {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Api-Version": "1.50", "Docker-Experimental": "false", Ostype: "linux" });
      return res.end(req.method === "HEAD" ? undefined : "OK");
    }
    if (req.method === "GET" && path === "/containers/json") return json(200, data.summaries);
    const m = /^\/containers\/([^/]+)\/json$/.exec(path);
    if (req.method === "GET" && m) {
      const ref = decodeURIComponent(m[1]!);
      const doc = data.containers.find((c) => !gone.has(String(c.Id)) && (c.Id === ref || c.Name === `/${ref}` || String(c.Id).startsWith(ref)));
      return doc ? json(200, doc) : json(404, { message: `No such container: ${ref}` });
    }
    json(404, { message: "page not found" });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => resolve());
  });
  return {
    host: `unix://${socket}`,
    requests,
    data,
    gone,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
