/* ebb autoscaler: KEDA + HPA for the ScaledObjects in -f files, scaling local
 * pools (LocalDeployment), or with --kubernetes for the ScaledObjects of a
 * cluster (and the files'), scaling workloads through their /scale
 * subresource; with a control port for status and metrics. With --check,
 * validate the files and print what was understood. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "autoscaler/autoscaler.h"
#include "autoscaler/cluster.h"
#include "autoscaler/control.h"
#include "autoscaler/drain_k8s.h"
#include "autoscaler/pool.h"
#include "autoscaler/target_k8s.h"
#include "autoscaler/target_pool.h"
#include "base/log.h"
#include "base/opts.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "config/config.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/event.h"
#include "k8s/lease.h"

#define FILES_MAX 256

static const char summary[] =
    "Runs KEDA's and the HPA's decisions for every ScaledObject in the files: each\n"
    "trigger's Prometheus query every pollingInterval (0 <-> 1, idle, min, cooldown,\n"
    "fallback) and the HPA's sync every --hpa-sync-period (1 <-> N: AverageValue and\n"
    "Value targets, 10% tolerance, stabilization, behavior policies), exactly as KEDA\n"
    "and kube-controller-manager decide (docs/scale.md, docs/autoscaler.md). Without\n"
    "--kubernetes, targets are LocalDeployments: local processes, started, probed,\n"
    "restarted with back-off and stopped by ebb, none left behind when it exits. A\n"
    "query returning several series is summed with a warning (--keda-strict: KEDA's\n"
    "error).\n"
    "\n"
    "The control port serves /status (JSON: conditions, triggers, replicas, events),\n"
    "/hpa (read by `ebb get hpa`), /metrics (KEDA's names plus ebb_autoscaler_*),\n"
    "/health, and POST /evaluate?scaledobject=NAME (poll now).\n"
    "\n"
    "With --kubernetes: the ScaledObjects (keda.sh/v1alpha1) come from the cluster\n"
    "(--namespace NS, or all namespaces as KEDA's operator), are checked as files are,\n"
    "and scale their scaleTargetRef through its /scale subresource; their status is\n"
    "written back as KEDA writes it (conditions, lastActiveTime, originalReplicaCount,\n"
    "...), the pause annotations are honoured, and a failing API server or Prometheus\n"
    "never scales anything down. -f files may add ScaledObjects whose targets are\n"
    "Deployments in their metadata.namespace (or LocalDeployments of the files).\n"
    "The API server is found as client-go finds it: --kubeconfig FILE, else in-cluster\n"
    "(KUBERNETES_SERVICE_HOST), else $KUBECONFIG or ~/.kube/config. Several replicas\n"
    "elect a leader on a Lease (ebb-autoscaler): only the leader scales and writes\n"
    "status; one that loses the Lease exits to be restarted as a follower. Scale\n"
    "decisions are Kubernetes Events on the ScaledObject (KEDA's reasons). With\n"
    "--router, each pod's in-flight requests at the router become its\n"
    "controller.kubernetes.io/pod-deletion-cost before a scale-down.\n"
    "\n"
    "With --check: validate the files, print what was understood, and exit\n"
    "(0 valid, 1 invalid, 2 usage); --local also requires every target to be a\n"
    "loaded LocalDeployment, as the live loop does.";

static const char epilog[] =
    "examples:\n"
    "  ebb autoscaler --check -f examples/tutorial/values-20-keda.yaml\n"
    "  ebb autoscaler -f examples/local/scaledobject.yaml -f examples/local/deployment.yaml\n"
    "  ebb autoscaler --kubernetes --namespace default --router http://ebb-router.default.svc:80\n"
    "  ebb get hpa -w --server http://127.0.0.1:8080\n";

struct as_cmd {
    uv_loop_t *loop;
    struct config cfg;
    struct autoscaler as;
    bool as_ready;
    struct control control;
    bool control_up;
    struct pool *pools; /* one per LocalDeployment */
    size_t npools;
    struct pool_hooks hooks;
    uv_signal_t sigterm, sigint;
    unsigned stopping; /* parts still stopping */
    /* --kubernetes */
    bool kube;
    struct k8s_config kcfg;
    struct fetcher kfetch;
    struct k8s_client kc;
    bool kfetch_up;
    struct cluster cluster;
    bool cluster_up, cluster_closed; /* cluster_release once the loop is done */
    struct target_k8s *ktargets; /* the files' ScaledObjects scaling cluster workloads */
    size_t nktargets;
    const char *ns;         /* --namespace, or NULL for all */
    const char *router_url; /* --router: in-flight counts for pod deletion costs */
    struct drain_k8s drain;
    bool drain_up;
    struct target_k8s_options target_opts; /* every Kubernetes target's: the drain */
    struct k8s_events events;
    bool events_up;
    bool leader_elect; /* --kubernetes without --no-leader-elect */
    struct k8s_leader_config lease;
    struct k8s_leader leader;
    bool leader_up;
    int exit_code; /* 1 after losing the lease or a failed start */
};

static void part_stopped(struct as_cmd *c)
{
    if (--c->stopping > 0)
        return;
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
}

static void on_pool_stopped(struct pool *p)
{
    part_stopped(p->data);
}

static void on_kfetch_closed(struct fetcher *f)
{
    part_stopped(f->data);
}

static void kube_close_step(struct as_cmd *c);

static void on_cluster_closed(struct cluster *cl)
{
    struct as_cmd *c = cl->data;
    c->cluster_closed = true;
    kube_close_step(c);
}

static void on_leader_released(void *ud)
{
    struct as_cmd *c = ud;
    c->leader_up = false;
    kube_close_step(c);
}

static void on_events_closed(void *ud)
{
    struct as_cmd *c = ud;
    c->events_up = false;
    kube_close_step(c);
}

/* The Kubernetes side closes after the control port, which reads the
 * targets for /status, one part after the other: the cluster's objects (and
 * their targets), the drains waiting on them, the Lease (given up, so that
 * another replica leads at once), the Events in flight, then the client's
 * requests. */
static void kube_close_step(struct as_cmd *c)
{
    if (c->cluster_up && !c->cluster_closed) {
        c->cluster.data = c;
        cluster_close(&c->cluster, on_cluster_closed);
        return;
    }
    if (c->drain_up) {
        drain_k8s_close(&c->drain);
        c->drain_up = false;
    }
    if (c->leader_up) {
        k8s_leader_release(&c->leader, on_leader_released, c);
        return;
    }
    if (c->events_up) {
        k8s_events_close(&c->events, on_events_closed, c);
        return;
    }
    if (c->kfetch_up) {
        c->kfetch.data = c;
        fetcher_close(&c->kfetch, on_kfetch_closed);
        return;
    }
    part_stopped(c);
}

static void kube_stop(struct as_cmd *c)
{
    for (size_t i = 0; i < c->nktargets; i++)
        target_k8s_release(&c->ktargets[i]);
    kube_close_step(c);
}

static void on_control_closed(struct control *ctl)
{
    struct as_cmd *c = ctl->data;
    if (c->kube)
        kube_stop(c);
    part_stopped(c);
}

/* Autoscaling stops first, so nothing scales while the replicas are
 * terminated; then the pools and the control port close. */
static void on_autoscaler_stopped(struct autoscaler *as)
{
    struct as_cmd *c = as->data;
    for (size_t i = 0; i < c->npools; i++)
        pool_stop(&c->pools[i], on_pool_stopped);
    if (c->control_up)
        control_stop(&c->control, on_control_closed);
    else if (c->kube)
        kube_stop(c);
    part_stopped(c);
}

static void stop_all(struct as_cmd *c)
{
    if (c->stopping)
        return;
    c->stopping = 1 + (unsigned)c->npools + (c->control_up ? 1 : 0) + (c->kube ? 1 : 0);
    if (c->as_ready)
        autoscaler_stop(&c->as, on_autoscaler_stopped);
    else
        on_autoscaler_stopped(&c->as);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct as_cmd *c = s->data;
    log_info("received %s: stopping (replicas get their termination grace period)",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_all(c);
}

static void on_replica_ready(struct pool *p, const struct pool_replica_info *r, void *ud)
{
    struct as_cmd *c = ud;
    if (c->as_ready && r->ready_at > 0 && r->started_at > 0)
        autoscaler_observe_ready(&c->as, r->ready_at - r->started_at);
}

/* Pools for every LocalDeployment, at their spec.replicas, and every
 * ScaledObject bound to its target's pool. */
static int start_pools(struct as_cmd *c, const char *log_dir)
{
    c->pools = calloc(c->cfg.n_deployments, sizeof(*c->pools));
    if (!c->pools && c->cfg.n_deployments)
        return -1;
    c->hooks = (struct pool_hooks){.on_ready = on_replica_ready, .ud = c};
    struct pool_options po;
    pool_options_defaults(&po);
    po.log_dir = log_dir;
    char err[512];
    for (size_t i = 0; i < c->cfg.n_deployments; i++) {
        const struct cfg_deployment *d = c->cfg.deployments[i];
        if (pool_init(&c->pools[i], c->loop, d, &po, &c->hooks, err, sizeof(err)) < 0) {
            fprintf(stderr, "ebb autoscaler: localdeployment \"%s\": %s\n", d->name, err);
            return -1;
        }
        c->pools[i].data = c;
        c->npools++;
    }
    for (size_t i = 0; i < c->as.n_objs && c->as.cfg; i++) {
        const struct cfg_scaled_object *so = c->cfg.sos[i];
        const struct cfg_deployment *d = so->target;
        if (!d && c->kube) /* checked without CONFIG_LOCAL: a LocalDeployment if there is one */
            d = config_find_deployment(&c->cfg, so->namespace_, so->spec.target_name);
        for (size_t k = 0; k < c->npools; k++)
            if (c->pools[k].d == d)
                autoscaler_bind(&c->as, i, target_pool(&c->pools[k]));
    }
    for (size_t i = 0; i < c->npools; i++)
        pool_scale(&c->pools[i], c->pools[i].d->replicas);
    return 0;
}

/* Starts or suspends the scaling work, keeping every object's state. With
 * leader election (a Lease, k8s/lease.h) this is its callback; without it
 * ebb autoscaler leads from the start. 0 or a negative errno. */
static int lead(struct as_cmd *c, bool leading)
{
    if (!leading) {
        log_info("not leading: scaling stops (the objects are still watched)");
        autoscaler_suspend(&c->as);
        return 0;
    }
    int rc = autoscaler_start(&c->as);
    if (rc == 0 && c->cluster_up)
        cluster_sync_status(&c->cluster);
    return rc;
}

static void on_lease_started(void *ud)
{
    struct as_cmd *c = ud;
    if (lead(c, true) < 0) {
        c->exit_code = 1;
        stop_all(c);
    }
}

/* As controller-runtime does: a replica that lost the lease exits, and
 * Kubernetes starts it again as a follower. */
static void on_lease_stopped(void *ud)
{
    struct as_cmd *c = ud;
    log_error("lost the lease %s/%s: scaling stops and ebb autoscaler exits (Kubernetes restarts "
              "it as a follower)",
              c->lease.namespace, c->lease.name);
    lead(c, false);
    c->exit_code = 1;
    stop_all(c);
}

/* The files' ScaledObjects whose targets are not LocalDeployments scale
 * workloads of the cluster, in their metadata.namespace. */
static int bind_kube_targets(struct as_cmd *c)
{
    if (!c->as.cfg)
        return 0;
    c->ktargets = calloc(c->as.n_objs, sizeof(*c->ktargets));
    if (!c->ktargets && c->as.n_objs)
        return -1;
    for (size_t i = 0; i < c->as.n_objs; i++) {
        struct as_object *o = c->as.objs[i];
        if (o->target.ops)
            continue;
        char err[512];
        struct target_k8s *t = &c->ktargets[c->nktargets];
        if (target_k8s_init(t, &c->kc, o->cfg->namespace_, &o->spec, &c->target_opts, err,
                            sizeof(err)) < 0) {
            fprintf(stderr, "ebb autoscaler: scaledobject %s/%s: %s\n", o->cfg->namespace_,
                    o->spec.name, err);
            return -1;
        }
        c->nktargets++;
        autoscaler_bind(&c->as, i, target_k8s(t));
    }
    return 0;
}

/* The API server's address and credentials, as client-go finds them. */
static int kube_config(struct as_cmd *c, const char *kubeconfig)
{
    char err[1024];
    uint64_t now = uv_now(c->loop);
    int rc = !kubeconfig && getenv("KUBERNETES_SERVICE_HOST")
                 ? k8s_config_in_cluster(&c->kcfg, NULL, now, err, sizeof(err))
                 : k8s_config_kubeconfig(&c->kcfg, kubeconfig, now, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "ebb autoscaler: %s\n", err);
        return -1;
    }
    return 0;
}

static int kube_start(struct as_cmd *c)
{
    const char *ns = c->ns;
    char err[512];
    if (fetcher_init(&c->kfetch, c->loop) < 0)
        return -1;
    c->kfetch_up = true;
    k8s_client_init(&c->kc, c->loop, &c->kfetch, &c->kcfg);
    if (k8s_events_init(&c->events, c->loop, &c->kc, "ebb-autoscaler") < 0)
        return -1;
    c->events_up = true;
    if (c->router_url) {
        if (drain_k8s_init(&c->drain, c->loop, &c->kfetch, &c->kc, c->router_url) < 0)
            return -1;
        c->drain_up = true;
        c->target_opts.before_scale_down = drain_k8s_before_scale_down;
        c->target_opts.ud = &c->drain;
    }
    if (bind_kube_targets(c) < 0)
        return -1;
    struct cluster_options co = {.namespace_ = ns, .events = &c->events, .target = c->target_opts};
    if (cluster_init(&c->cluster, c->loop, &c->as, &c->kc, &co, err, sizeof(err)) < 0) {
        fprintf(stderr, "ebb autoscaler: %s\n", err);
        return -1;
    }
    c->cluster_up = true;
    log_info("ScaledObjects from %s (%s), %s", c->kcfg.server, c->kcfg.source,
             ns ? ns : "all namespaces");
    if (cluster_start(&c->cluster) < 0)
        return -1;
    if (!c->leader_elect)
        return 0;
    if (!c->lease.namespace)
        c->lease.namespace = getenv("POD_NAMESPACE") ? getenv("POD_NAMESPACE") : c->kcfg.namespace;
    if (k8s_leader_start(&c->leader, c->loop, &c->kc, &c->lease, on_lease_started, on_lease_stopped,
                         c, err, sizeof(err)) < 0) {
        fprintf(stderr, "ebb autoscaler: leader election: %s\n", err);
        return -1;
    }
    c->leader_up = true;
    log_info("leader election on the Lease %s/%s: scaling starts once this replica leads",
             c->lease.namespace, c->lease.name);
    return 0;
}

static int run(struct as_cmd *c, const struct as_options *ao, const char *host, int port,
               const char *log_dir)
{
    char err[512];
    const struct config *cfg = c->kube && c->cfg.n_sos == 0 ? NULL : &c->cfg;
    if (autoscaler_init(&c->as, c->loop, cfg, ao, err, sizeof(err)) < 0) {
        fprintf(stderr, "ebb autoscaler: %s\n", err);
        return 1;
    }
    c->as.data = c;
    c->as_ready = true;
    uv_signal_init(c->loop, &c->sigterm);
    uv_signal_init(c->loop, &c->sigint);
    c->sigterm.data = c->sigint.data = c;
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    int code = 0;
    c->control.data = c;
    int lerr = control_start(&c->control, c->loop, &c->as, host, port);
    if (lerr < 0) {
        fprintf(stderr, "ebb autoscaler: cannot listen on %s:%d: %s\n", host, port,
                uv_strerror(lerr));
        http_server_release(&c->control.http);
        buf_release(&c->control.out);
        code = 1;
    } else {
        c->control_up = true;
        log_info("control port on http://%s:%d (/status, /hpa, /metrics)", host, port);
        if (start_pools(c, log_dir) < 0 || (c->kube && kube_start(c) < 0) ||
            (!c->leader_up && lead(c, true) < 0))
            code = 1;
    }
    if (code)
        stop_all(c);
    uv_run(c->loop, UV_RUN_DEFAULT);
    autoscaler_release(&c->as);
    if (c->cluster_up)
        cluster_release(&c->cluster);
    free(c->ktargets);
    for (size_t i = 0; i < c->npools; i++)
        pool_release(&c->pools[i]);
    free(c->pools);
    if (uv_loop_close(c->loop))
        log_error("event loop closed with handles still open");
    return code ? code : c->exit_code;
}

/* With --kubernetes the files are optional, and their ScaledObjects may
 * name Deployments of the cluster: checked without CONFIG_LOCAL. */
static int load_kube_files(struct config *c, const char *const *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (config_load_file(c, files[i]) == -ENOMEM) {
            fprintf(stderr, "ebb autoscaler: out of memory\n");
            return -ENOMEM;
        }
    int errors = config_check(c, 0);
    struct buf out = BUF_INIT(1u << 20);
    if (config_format_issues(c, &out) == 0 && out.len)
        fputs(out.data, stderr);
    buf_release(&out);
    if (errors) {
        fprintf(stderr, "ebb autoscaler: %d error%s in the files; nothing was started\n", errors,
                errors == 1 ? "" : "s");
        return -EINVAL;
    }
    return 0;
}

int cmd_autoscaler(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--check") == 0)
            return config_check_main(argc, argv);
    const char *files[FILES_MAX];
    struct opt_list file_list = {files, 0, FILES_MAX};
    struct as_options ao;
    as_options_defaults(&ao);
    const char *host = "127.0.0.1", *log_level = "info", *log_dir = NULL;
    int port = 8080, down_window = ao.down_stabilization;
    bool check = false, local = false, kube = false;
    const char *kubeconfig = NULL, *ns = NULL, *router_url = NULL;
    bool no_leader_elect = false;
    struct k8s_leader_config lease = {.name = "ebb-autoscaler"};
    double lease_s[3] = {K8S_LEASE_DURATION_MS / 1000.0, K8S_LEASE_RENEW_DEADLINE_MS / 1000.0,
                         K8S_LEASE_RETRY_PERIOD_MS / 1000.0};
    const struct opt opts[] = {
        {"f,file", OPT_LIST, &file_list, "FILE",
         "a manifest file: ScaledObject, TriggerAuthentication, LocalDeployment", 0, 0, NULL},
        {"host", OPT_STRING, &host, "ADDR", "address of the control port", 0, 0, NULL},
        {"port", OPT_INT, &port, "PORT",
         "control port: /status, /hpa, /metrics (KEDA's operator serves metrics on 8080)", 1,
         65535, NULL},
        {"hpa-sync-period", OPT_DOUBLE, &ao.hpa_sync_period, "SECONDS",
         "how often the HPA decides 1 <-> N (--horizontal-pod-autoscaler-sync-period)", 0.05,
         3600, NULL},
        {"horizontal-pod-autoscaler-tolerance", OPT_DOUBLE, &ao.tolerance, "RATIO",
         "usage ratios within this of 1.0 keep the replicas", 0, 1, NULL},
        {"horizontal-pod-autoscaler-downscale-stabilization", OPT_INT, &down_window, "SECONDS",
         "scale-down window when the ScaledObject sets no behavior", 0, 3600, NULL},
        {"keda-strict", OPT_FLAG, &ao.keda_strict, NULL,
         "a query returning several series is an error, as in KEDA (default: summed)", 0, 0,
         NULL},
        {"log-dir", OPT_STRING, &log_dir, "DIR",
         "replica log files go here (default: each LocalDeployment's logDir)", 0, 0, NULL},
        {"kubernetes", OPT_FLAG, &kube, NULL,
         "ScaledObjects from the cluster; targets are workloads' /scale subresources", 0, 0,
         NULL},
        {"kubeconfig", OPT_STRING, &kubeconfig, "FILE",
         "with --kubernetes: the kubeconfig (default: in-cluster, else $KUBECONFIG or "
         "~/.kube/config)",
         0, 0, NULL},
        {"namespace", OPT_STRING, &ns, "NS",
         "with --kubernetes: watch this namespace only (default: all, as KEDA)", 0, 0, NULL},
        {"router", OPT_STRING, &router_url, "URL",
         "with --kubernetes: the ebb router (e.g. http://ebb-router.default.svc:80) whose "
         "in-flight counts per pod become controller.kubernetes.io/pod-deletion-cost before a "
         "scale-down, so the least busy pods go",
         0, 0, NULL},
        {"no-leader-elect", OPT_FLAG, &no_leader_elect, NULL,
         "with --kubernetes: scale without holding the Lease (only safe with one replica)", 0, 0,
         NULL},
        {"leader-elect-lease", OPT_STRING, &lease.name, "NAME",
         "with --kubernetes: the coordination.k8s.io Lease the replicas elect a leader on", 0, 0,
         NULL},
        {"leader-elect-namespace", OPT_STRING, &lease.namespace, "NS",
         "the Lease's namespace (default: $POD_NAMESPACE, else the kubeconfig's)", 0, 0, NULL},
        {"leader-elect-lease-duration", OPT_DOUBLE, &lease_s[0], "SECONDS",
         "how long a leader that stopped renewing keeps the Lease", 1, 3600, NULL},
        {"leader-elect-renew-deadline", OPT_DOUBLE, &lease_s[1], "SECONDS",
         "a leader that could not renew for this long stops leading", 0.5, 3600, NULL},
        {"leader-elect-retry-period", OPT_DOUBLE, &lease_s[2], "SECONDS",
         "between two tries to acquire, and between two renewals", 0.1, 3600, NULL},
        {"check", OPT_FLAG, &check, NULL, "validate the files, print them, and exit", 0, 0, NULL},
        {"local", OPT_FLAG, &local, NULL, "with --check: targets must be LocalDeployments", 0, 0,
         NULL},
        {"log-level", OPT_CHOICE, &log_level, NULL, "log verbosity", 0, 0,
         "error|warning|info|debug"},
    };
    const struct opts_spec spec = {"ebb autoscaler",
                                   "ebb autoscaler -f FILE [-f FILE...] [flags]\n"
                                   "       ebb autoscaler --kubernetes [--namespace NS] [-f FILE...] "
                                   "[flags]",
                                   summary, opts, ARRAY_SIZE(opts), epilog};
    int rc = opts_parse(&spec, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    ao.down_stabilization = down_window;
    if (file_list.n == 0 && !kube) {
        fprintf(stderr, "ebb autoscaler: no manifest: give -f FILE or --kubernetes (see --help)\n");
        return 2;
    }
    if (!kube && (kubeconfig || ns || router_url || no_leader_elect || lease.namespace ||
                  strcmp(lease.name, "ebb-autoscaler"))) {
        fprintf(stderr, "ebb autoscaler: --kubeconfig, --namespace, --router and the leader "
                        "election flags need --kubernetes\n");
        return 2;
    }
    if (router_url && strncmp(router_url, "http://", 7) && strncmp(router_url, "https://", 8)) {
        fprintf(stderr, "ebb autoscaler: --router %s: not an http:// or https:// URL\n",
                router_url);
        return 2;
    }
    enum log_level lvl;
    log_level_parse(log_level, &lvl);
    log_set_level(lvl);
    log_set_name("autoscaler");
    signal(SIGPIPE, SIG_IGN);
    struct as_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return 1;
    c->loop = uv_default_loop();
    int code = 1;
    c->kube = kube;
    c->ns = ns;
    c->router_url = router_url;
    c->leader_elect = kube && !no_leader_elect;
    c->lease = lease;
    c->lease.lease_duration_ms = (unsigned)(lease_s[0] * 1000);
    c->lease.renew_deadline_ms = (unsigned)(lease_s[1] * 1000);
    c->lease.retry_period_ms = (unsigned)(lease_s[2] * 1000);
    config_init(&c->cfg);
    int loaded = kube ? load_kube_files(&c->cfg, file_list.items, file_list.n)
                      : config_load_run(&c->cfg, file_list.items, file_list.n, "ebb autoscaler");
    if (loaded == 0 && (!kube || kube_config(c, kubeconfig) == 0))
        code = run(c, &ao, host, port, log_dir);
    config_release(&c->cfg);
    k8s_config_release(&c->kcfg);
    free(c);
    return code;
}
