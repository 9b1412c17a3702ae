// Every route the Docker Engine API registers (moby 20.10 and current master), as the daemon's
// router sees it: method, gorilla/mux pattern without the /v{version} prefix, operation name (and,
// in comments, what the request body means to the daemon; the bodies that are judged are read in
// normalize.ts). Order matters: first match wins, as in mux,
// so keep routers in the order dockerd registers them.
//
// Sources (github.com/moby/moby):
//   master: daemon/server/router/{checkpoint,container,image,system,volume,build,session,swarm,
//           plugin,distribution,network,debug,grpc}/*.go, daemon/server/server.go (CreateMux),
//           daemon/command/daemon.go (buildRouters: registration order).
//   20.10:  api/server/router/*/*.go, api/server/server.go (createMux), cmd/dockerd/daemon.go
//           (initRouter: checkpoint, container, image, system, volume, build, session, swarm,
//           plugin, distribution, grpc, network; debug routes added last by createMux).
//
// Notes for the matcher:
//   - Every route below is registered twice: at "/v{version:[0-9.]+}<pattern>" and at "<pattern>".
//     Exception: on 20.10 the /debug/* routes are registered ONLY without the version prefix, and
//     for ANY method (m.Path("/debug"+path).Handler(f), no .Methods()); on master they are GET-only
//     and registered with and without the prefix like every other route.
//   - The system router also registers OPTIONS "/{anyroute:.*}" (CORS preflight, returns 200 and
//     does nothing). OPTIONS is outside RouteDef's method set, so it is not listed.
//   - mux matches against the percent-decoded path (no UseEncodedPath) and, with the default
//     skipClean=false, answers any path that is not path.Clean()-ed ("//", "/./", "/../") with a
//     301 redirect instead of routing it.
//   - A path that matches with the wrong method is not an error in mux: it keeps trying later routes
//     and only falls back to 404 ("page not found") when nothing matches method and path.
//   - Routers marked Experimental (checkpoints) are registered even when experimental mode is off;
//     the handler then returns "not implemented".
//   - BODY CAVEAT: almost every POST/PUT handler calls httputils.ParseForm (Go's Request.ParseForm),
//     and a few call r.FormValue (ParseMultipartForm). For POST/PUT with Content-Type
//     application/x-www-form-urlencoded (or multipart/form-data for FormValue) Go reads the BODY into
//     r.Form, and body values take precedence over the query string. So "query" parameters such as
//     fromImage, signal, force, remote, networkmode... can also arrive in the body. The plugin
//     refuses form-encoded bodies on every route (body.ts).

export interface RouteDef {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  readonly pattern: string; // e.g. '/containers/{name:.*}/exec'
  readonly op: string; // e.g. 'container.exec.create'
}

// prettier-ignore -- one route per line, aligned like the routers it mirrors
export const ROUTE_TABLE: readonly RouteDef[] = [
  // ---- checkpoint router (registered before the container router, or DELETE /containers/{name:.*}
  // ---- would mask the checkpoint DELETE). Experimental routes.
  { method: 'GET', pattern: '/containers/{name:.*}/checkpoints', op: 'checkpoint.list' },
  { method: 'POST', pattern: '/containers/{name:.*}/checkpoints', op: 'checkpoint.create' }, // checkpoint.CreateOptions via ReadJSON
  { method: 'DELETE', pattern: '/containers/{name}/checkpoints/{checkpoint}', op: 'checkpoint.delete' }, // single-segment params, as in moby

  // ---- container router
  // HEAD
  { method: 'HEAD', pattern: '/containers/{name:.*}/archive', op: 'container.archive.head' },
  // GET
  { method: 'GET', pattern: '/containers/json', op: 'container.list' },
  { method: 'GET', pattern: '/containers/{name:.*}/export', op: 'container.export' },
  { method: 'GET', pattern: '/containers/{name:.*}/changes', op: 'container.changes' },
  { method: 'GET', pattern: '/containers/{name:.*}/json', op: 'container.inspect' },
  { method: 'GET', pattern: '/containers/{name:.*}/top', op: 'container.top' },
  { method: 'GET', pattern: '/containers/{name:.*}/logs', op: 'container.logs' },
  { method: 'GET', pattern: '/containers/{name:.*}/stats', op: 'container.stats' },
  { method: 'GET', pattern: '/containers/{name:.*}/attach/ws', op: 'container.attach.ws' }, // websocket upgrade; frames carry container stdin
  { method: 'GET', pattern: '/exec/{id:.*}/json', op: 'exec.inspect' },
  { method: 'GET', pattern: '/containers/{name:.*}/archive', op: 'container.archive.get' },
  // POST
  { method: 'POST', pattern: '/containers/create', op: 'container.create' },
  { method: 'POST', pattern: '/containers/{name:.*}/kill', op: 'container.kill' },
  { method: 'POST', pattern: '/containers/{name:.*}/pause', op: 'container.pause' },
  { method: 'POST', pattern: '/containers/{name:.*}/unpause', op: 'container.unpause' },
  { method: 'POST', pattern: '/containers/{name:.*}/restart', op: 'container.restart' },
  { method: 'POST', pattern: '/containers/{name:.*}/start', op: 'container.start' }, // 20.10: API < 1.24 decodes a HostConfig body (>7 bytes or chunked); master rejects any body
  { method: 'POST', pattern: '/containers/{name:.*}/stop', op: 'container.stop' },
  { method: 'POST', pattern: '/containers/{name:.*}/wait', op: 'container.wait' },
  { method: 'POST', pattern: '/containers/{name:.*}/resize', op: 'container.resize' },
  { method: 'POST', pattern: '/containers/{name:.*}/attach', op: 'container.attach' }, // hijacked connection (stdin stream)
  { method: 'POST', pattern: '/containers/{name:.*}/copy', op: 'container.copy' }, // 20.10 only (removed later); CopyConfig JSON, works for API < 1.24, returns a tar
  { method: 'POST', pattern: '/containers/{name:.*}/exec', op: 'container.exec.create' },
  { method: 'POST', pattern: '/exec/{name:.*}/start', op: 'exec.start' }, // ExecStartCheck JSON, then the connection is hijacked for stdin unless Detach
  { method: 'POST', pattern: '/exec/{name:.*}/resize', op: 'exec.resize' },
  { method: 'POST', pattern: '/containers/{name:.*}/rename', op: 'container.rename' },
  { method: 'POST', pattern: '/containers/{name:.*}/update', op: 'container.update' },
  { method: 'POST', pattern: '/containers/prune', op: 'container.prune' },
  { method: 'POST', pattern: '/commit', op: 'container.commit' }, // optional container.Config body (empty body allowed)
  // PUT
  { method: 'PUT', pattern: '/containers/{name:.*}/archive', op: 'container.archive.put' }, // tar extracted into the container
  // DELETE
  { method: 'DELETE', pattern: '/containers/{name:.*}', op: 'container.delete' },

  // ---- image router
  // GET
  { method: 'GET', pattern: '/images/json', op: 'image.list' },
  { method: 'GET', pattern: '/images/search', op: 'image.search' },
  { method: 'GET', pattern: '/images/get', op: 'image.get' }, // multiple images via ?names=
  { method: 'GET', pattern: '/images/{name:.*}/get', op: 'image.get' },
  { method: 'GET', pattern: '/images/{name:.*}/history', op: 'image.history' },
  { method: 'GET', pattern: '/images/{name:.*}/json', op: 'image.inspect' },
  // POST
  { method: 'POST', pattern: '/images/load', op: 'image.load' }, // tar archive
  { method: 'POST', pattern: '/images/create', op: 'image.create' }, // pull: no body; import with fromSrc=-: body is a tar layer
  { method: 'POST', pattern: '/images/{name:.*}/push', op: 'image.push' }, // 20.10..v27: without X-Registry-Auth the AuthConfig is decoded from a JSON body; master ignores the body
  { method: 'POST', pattern: '/images/{name:.*}/tag', op: 'image.tag' },
  { method: 'POST', pattern: '/images/prune', op: 'image.prune' },
  // DELETE
  { method: 'DELETE', pattern: '/images/{name:.*}', op: 'image.delete' },

  // ---- system router (plus OPTIONS "/{anyroute:.*}", not representable here)
  { method: 'GET', pattern: '/_ping', op: 'system.ping' },
  { method: 'HEAD', pattern: '/_ping', op: 'system.ping' },
  { method: 'GET', pattern: '/events', op: 'system.events' },
  { method: 'GET', pattern: '/info', op: 'system.info' },
  { method: 'GET', pattern: '/version', op: 'system.version' },
  { method: 'GET', pattern: '/system/df', op: 'system.df' },
  { method: 'POST', pattern: '/auth', op: 'system.auth' }, // registry AuthConfig (credentials)

  // ---- volume router
  // GET
  { method: 'GET', pattern: '/volumes', op: 'volume.list' },
  { method: 'GET', pattern: '/volumes/{name:.*}', op: 'volume.inspect' },
  // POST
  { method: 'POST', pattern: '/volumes/create', op: 'volume.create' },
  { method: 'POST', pattern: '/volumes/prune', op: 'volume.prune' },
  // PUT
  { method: 'PUT', pattern: '/volumes/{name:.*}', op: 'volume.update' }, // cluster volumes, API >= 1.42 (not in 20.10)
  // DELETE
  { method: 'DELETE', pattern: '/volumes/{name:.*}', op: 'volume.delete' },

  // ---- build router
  { method: 'POST', pattern: '/build', op: 'image.build' }, // build context (tar, or a bare Dockerfile); options in the query string
  { method: 'POST', pattern: '/build/prune', op: 'build.prune' },
  { method: 'POST', pattern: '/build/cancel', op: 'build.cancel' }, // id via r.FormValue

  // ---- session router (deprecated on master, still registered)
  { method: 'POST', pattern: '/session', op: 'session' }, // hijacked / upgraded to h2c for BuildKit session

  // ---- swarm router
  { method: 'POST', pattern: '/swarm/init', op: 'swarm.init' },
  { method: 'POST', pattern: '/swarm/join', op: 'swarm.join' },
  { method: 'POST', pattern: '/swarm/leave', op: 'swarm.leave' }, // only ?force
  { method: 'GET', pattern: '/swarm', op: 'swarm.inspect' },
  { method: 'GET', pattern: '/swarm/unlockkey', op: 'swarm.unlockkey' },
  { method: 'POST', pattern: '/swarm/update', op: 'swarm.update' },
  { method: 'POST', pattern: '/swarm/unlock', op: 'swarm.unlock' }, // UnlockRequest (unlock key)

  { method: 'GET', pattern: '/services', op: 'service.list' },
  { method: 'GET', pattern: '/services/{id}', op: 'service.inspect' },
  { method: 'POST', pattern: '/services/create', op: 'service.create' },
  { method: 'POST', pattern: '/services/{id}/update', op: 'service.update' },
  { method: 'DELETE', pattern: '/services/{id}', op: 'service.delete' },
  { method: 'GET', pattern: '/services/{id}/logs', op: 'service.logs' },

  { method: 'GET', pattern: '/nodes', op: 'node.list' },
  { method: 'GET', pattern: '/nodes/{id}', op: 'node.inspect' },
  { method: 'DELETE', pattern: '/nodes/{id}', op: 'node.delete' },
  { method: 'POST', pattern: '/nodes/{id}/update', op: 'node.update' },

  { method: 'GET', pattern: '/tasks', op: 'task.list' },
  { method: 'GET', pattern: '/tasks/{id}', op: 'task.inspect' },
  { method: 'GET', pattern: '/tasks/{id}/logs', op: 'task.logs' },

  { method: 'GET', pattern: '/secrets', op: 'secret.list' },
  { method: 'POST', pattern: '/secrets/create', op: 'secret.create' },
  { method: 'DELETE', pattern: '/secrets/{id}', op: 'secret.delete' },
  { method: 'GET', pattern: '/secrets/{id}', op: 'secret.inspect' },
  { method: 'POST', pattern: '/secrets/{id}/update', op: 'secret.update' },

  { method: 'GET', pattern: '/configs', op: 'config.list' },
  { method: 'POST', pattern: '/configs/create', op: 'config.create' },
  { method: 'DELETE', pattern: '/configs/{id}', op: 'config.delete' },
  { method: 'GET', pattern: '/configs/{id}', op: 'config.inspect' },
  { method: 'POST', pattern: '/configs/{id}/update', op: 'config.update' },

  // ---- plugin router
  { method: 'GET', pattern: '/plugins', op: 'plugin.list' },
  { method: 'GET', pattern: '/plugins/{name:.*}/json', op: 'plugin.inspect' },
  { method: 'GET', pattern: '/plugins/privileges', op: 'plugin.privileges' },
  { method: 'DELETE', pattern: '/plugins/{name:.*}', op: 'plugin.delete' },
  { method: 'POST', pattern: '/plugins/{name:.*}/enable', op: 'plugin.enable' },
  { method: 'POST', pattern: '/plugins/{name:.*}/disable', op: 'plugin.disable' },
  { method: 'POST', pattern: '/plugins/pull', op: 'plugin.pull' }, // granted PluginPrivileges (JSON array)
  { method: 'POST', pattern: '/plugins/{name:.*}/push', op: 'plugin.push' }, // auth only via X-Registry-Auth header
  { method: 'POST', pattern: '/plugins/{name:.*}/upgrade', op: 'plugin.upgrade' }, // granted PluginPrivileges (JSON array)
  { method: 'POST', pattern: '/plugins/{name:.*}/set', op: 'plugin.set' }, // JSON array of "KEY=value" settings
  { method: 'POST', pattern: '/plugins/create', op: 'plugin.create' }, // tar of rootfs + config.json

  // ---- distribution router
  { method: 'GET', pattern: '/distribution/{name:.*}/json', op: 'distribution.inspect' },

  // ---- grpc router (20.10 registers it before network; master after debug: no overlap either way)
  { method: 'POST', pattern: '/grpc', op: 'grpc' }, // h2c upgrade, BuildKit gRPC stream

  // ---- network router
  // GET
  { method: 'GET', pattern: '/networks', op: 'network.list' },
  { method: 'GET', pattern: '/networks/', op: 'network.list' }, // trailing-slash alias, must precede {id:.+}
  { method: 'GET', pattern: '/networks/{id:.+}', op: 'network.inspect' },
  // POST
  { method: 'POST', pattern: '/networks/create', op: 'network.create' },
  { method: 'POST', pattern: '/networks/{id:.*}/connect', op: 'network.connect' },
  { method: 'POST', pattern: '/networks/{id:.*}/disconnect', op: 'network.disconnect' },
  { method: 'POST', pattern: '/networks/prune', op: 'network.prune' },
  // DELETE
  { method: 'DELETE', pattern: '/networks/{id:.*}', op: 'network.delete' },

  // ---- debug router (20.10: any method, unversioned only; master: GET, versioned and unversioned)
  { method: 'GET', pattern: '/debug/vars', op: 'debug.vars' },
  { method: 'GET', pattern: '/debug/pprof/', op: 'debug.pprof' },
  { method: 'GET', pattern: '/debug/pprof/cmdline', op: 'debug.pprof' },
  { method: 'GET', pattern: '/debug/pprof/profile', op: 'debug.pprof' },
  { method: 'GET', pattern: '/debug/pprof/symbol', op: 'debug.pprof' },
  { method: 'POST', pattern: '/debug/pprof/symbol', op: 'debug.pprof' }, // 20.10 only (any method); pprof.Symbol reads "0x..+0x.." addresses from a POST body
  { method: 'GET', pattern: '/debug/pprof/trace', op: 'debug.pprof' },
  { method: 'GET', pattern: '/debug/pprof/{name}', op: 'debug.pprof' },
];
