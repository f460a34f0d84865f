// Agent workspace of the human-handoff desk: login, queue, ticket, conversation, actions.
//
// Talks only to the desk JSON API beside this page (`api/...` resolves to /desk/api/...)
// with the agent's token. Data from the API is put on the page with textContent only,
// never as markup, so a shopper's message cannot inject anything.

const TOKEN_KEY = "desk.agentToken";
const QUEUE_POLL_MS = 3000; // the queue poll also keeps the agent "online" for presence
const TICKET_POLL_MS = 2000;
const QUEUE_STATUSES = "queued,assigned,callback_scheduled";
const REPLY_MAX_CHARS = 2000;
// A ticket this close to its due time is shown as urgent-looking before it is overdue.
const SLA_SOON_MS = 5 * 60 * 1000;

const REASONS = {
  user_request: "顾客要求人工",
  beyond_authority: "超出机器人权限",
  urgent: "紧急",
  overdue_refund: "退款超时",
  repeated_failure: "机器人多次未能解决",
  system_error: "系统故障",
  other: "其他",
};
// Rasa input channel names (and the order system's account kinds) -> what agents call them.
const CHANNELS = {
  web: "网页",
  rest: "网页",
  widget: "网页",
  socketio: "网页",
  wechat: "微信",
  wecom: "企业微信",
  phone: "电话",
  ivr: "电话",
  twilio_voice: "电话",
};
const STATUSES = {
  queued: "排队中",
  assigned: "处理中",
  resolved: "已解决",
  callback_scheduled: "待回电",
};
const ORDER_STATUSES = {
  created: "待付款",
  paid: "已付款",
  shipped: "已发货",
  delivered: "已签收",
  cancelled: "已取消",
  closed: "已关闭",
};
// What an agent is told for the API's error codes; other errors are told by HTTP status.
const ERROR_TEXTS = {
  ticket_taken: "该工单已被其他客服接单。",
  ticket_closed: "该工单已结束，不能再操作。",
  ticket_not_assigned: "该工单还没有人接单，请先接单。",
  not_your_ticket: "该工单由其他客服处理，您不能操作。",
  channel_not_relayed: "顾客所在渠道（电话、企业微信等）收不到这里的回复，请按联系电话回电处理。",
  bot_unreachable: "暂时连接不上机器人服务，本次操作没有完成，请稍后重试。",
  bot_rejected: "机器人服务拒绝了本次操作，操作没有完成，请联系技术支持。",
  bot_not_configured: "工单服务没有配置机器人地址，无法操作，请联系技术支持。",
  database_unavailable: "工单数据库暂时不可用，请稍后重试。",
  handoff_not_found: "工单不存在。",
  contact_not_available: "该工单没有登记联系电话。",
  invalid_text: `回复内容需为 1 到 ${REPLY_MAX_CHARS} 个字符。`,
  network: "无法连接工单服务，请检查网络后重试。",
  bad_response: "工单服务返回了无法识别的内容，请稍后重试。",
};
const STATUS_TEXTS = {
  400: "请求有误。",
  403: "没有权限执行此操作。",
  404: "请求的内容不存在。",
  409: "工单状态已变化，操作未完成，请查看最新状态。",
  413: "内容太长。",
  422: "输入不符合要求。",
  502: "机器人服务暂时不可用，本次操作没有完成，请稍后重试。",
  503: "服务暂时不可用，本次操作没有完成，请稍后重试。",
  504: "服务响应超时，请稍后重试。",
};

// The intents a reviewed message can be given (the domain's, without nlu_fallback; a test
// keeps this list equal to domain.yml's).
const INTENTS = {
  request_return: "退货",
  request_exchange: "换货",
  request_refund: "退款",
  report_quality_issue: "质量问题",
  ask_return_policy: "退换货规则",
  check_refund_status: "查退款进度",
  check_return_status: "查退货进度",
  check_order_status: "查订单物流",
  file_complaint: "投诉",
  ask_complaint_routes: "其他投诉渠道",
  request_compensation: "要求赔偿",
  report_urgent_issue: "紧急问题",
  request_human: "转人工",
  ask_price_protection: "价格保护",
  ask_invoice: "发票",
  cancel_order: "取消订单",
  change_address: "改地址",
  inform: "提供信息（订单号、手机尾号）",
  affirm: "肯定",
  deny: "否定",
  stop: "不办了",
  greet: "问候",
  goodbye: "告别",
  thank: "感谢",
  chitchat: "闲聊",
  out_of_scope: "售后以外的问题",
};
const NEXT_STEPS = {
  asked_to_rephrase: "请顾客换个说法",
  offered_tasks: "列出可办的事",
  handed_over: "转了人工",
  answered_out_of_scope: "答复不在服务范围",
};
const UNANSWERED_LIMIT = 100;
// The report's figures in the order the page shows them (reporting/figures.py FIGURE_NAMES).
const FIGURE_TITLES = {
  conversations: "每日会话数（按渠道）",
  self_service: "自助解决率",
  handoffs: "转人工率与原因",
  complaints: "投诉工单",
  first_response: "人工首次响应",
  refunds: "退款时效",
  return_decisions: "退货判定（按规则）",
  satisfaction: "满意度",
  unanswered: "未能回答的问题",
};
const DAY_MS = 24 * 60 * 60 * 1000;
const REPORT_DEFAULT_DAYS = 7;

const $ = (id) => document.getElementById(id);

const ui = {
  agentBox: $("agent-box"),
  agentName: $("agent-name"),
  logout: $("logout"),
  banner: $("error-banner"),
  bannerText: $("error-text"),
  bannerClose: $("error-close"),
  loginView: $("login-view"),
  loginForm: $("login-form"),
  loginToken: $("login-token"),
  loginMessage: $("login-message"),
  loginSubmit: $("login-submit"),
  workspace: $("workspace"),
  queueList: $("queue-list"),
  queueCount: $("queue-count"),
  queueEmpty: $("queue-empty"),
  ticketPanel: $("ticket-panel"),
  placeholder: $("ticket-placeholder"),
  ticketView: $("ticket-view"),
  ticketTitle: $("ticket-title"),
  ticketMeta: $("ticket-meta"),
  ticketHint: $("ticket-hint"),
  claim: $("claim"),
  resolve: $("resolve"),
  handBack: $("hand-back"),
  conversationNotice: $("conversation-notice"),
  conversationLog: $("conversation-log"),
  replyForm: $("reply-form"),
  replyText: $("reply-text"),
  replyCount: $("reply-count"),
  replySend: $("reply-send"),
  summary: $("ctx-summary"),
  contactMasked: $("contact-masked"),
  revealContact: $("reveal-contact"),
  contactFull: $("contact-full"),
  order: $("ctx-order"),
  slotsBody: document.querySelector("#ctx-slots tbody"),
  transcriptBox: $("transcript-box"),
  transcript: $("ctx-transcript"),
  viewTabs: $("view-tabs"),
  unansweredView: $("unanswered-view"),
  unansweredRows: $("unanswered-rows"),
  unansweredEmpty: $("unanswered-empty"),
  unansweredPendingOnly: $("unanswered-pending-only"),
  unansweredRefresh: $("unanswered-refresh"),
  intentOptions: $("intent-options"),
  reportView: $("report-view"),
  reportForm: $("report-form"),
  reportFrom: $("report-from"),
  reportTo: $("report-to"),
  reportBody: $("report-body"),
};

const state = {
  token: null,
  agent: null,
  // Bumped at every login and logout: poll loops of an older session stop by themselves.
  session: 0,
  tickets: [],
  queueKey: "",
  selectedId: null,
  detail: null,
  // Ticket fetches can overlap (poll + action); only the newest one is shown.
  detailRequest: 0,
  detailShown: 0,
  contextKey: "",
  messageKeys: [],
  revealed: null,
  busy: false,
  // What the banner's error came from: a failed poll ("queue", "ticket") clears itself when
  // that poll recovers; a failed "action" stays until the agent closes it or acts again.
  bannerSource: null,
};

// ---- API ---------------------------------------------------------------------------------

class DeskApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
  const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`api/${path}`, init);
  } catch {
    throw new DeskApiError(0, "network", "");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status === 401) {
    signOut(state.agent ? "登录已失效，请重新输入登录令牌。" : "登录令牌无效，请检查后重新输入。");
    throw new DeskApiError(401, "unauthorized", "");
  }
  if (!response.ok) {
    const error = data && typeof data.error === "object" && data.error ? data.error : {};
    throw new DeskApiError(response.status, String(error.code || `http_${response.status}`), String(error.message || ""));
  }
  if (data === null || typeof data !== "object") {
    throw new DeskApiError(response.status, "bad_response", "");
  }
  return data;
}

function errorText(error) {
  if (!(error instanceof DeskApiError)) {
    return `页面出错：${error && error.message ? error.message : String(error)}`;
  }
  const text = ERROR_TEXTS[error.code] || STATUS_TEXTS[error.status] || "操作失败，请稍后重试。";
  const detail = error.status ? `HTTP ${error.status} · ${error.code}` : error.code;
  return `${text}（${detail}）`;
}

// ---- banner ------------------------------------------------------------------------------

function showError(error, source) {
  if (error instanceof DeskApiError && error.status === 401) {
    return; // the login view says it
  }
  ui.bannerText.textContent = errorText(error);
  ui.banner.hidden = false;
  state.bannerSource = source;
}

function clearError(source) {
  if (source === undefined || state.bannerSource === source) {
    ui.banner.hidden = true;
    ui.bannerText.textContent = "";
    state.bannerSource = null;
  }
}

// ---- login -------------------------------------------------------------------------------

function showLogin(message) {
  ui.workspace.hidden = true;
  ui.viewTabs.hidden = true;
  ui.unansweredView.hidden = true;
  ui.reportView.hidden = true;
  ui.agentBox.hidden = true;
  ui.loginView.hidden = false;
  ui.loginMessage.textContent = message || "";
  ui.loginToken.value = "";
  ui.loginToken.focus();
}

function signOut(message) {
  state.session += 1;
  state.token = null;
  state.agent = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearError();
  closeTicket();
  state.tickets = [];
  state.queueKey = "";
  ui.queueList.replaceChildren();
  showLogin(message);
}

async function signIn(token) {
  state.token = token;
  const session = ++state.session;
  let me;
  try {
    me = await api("GET", "me");
  } catch (error) {
    if (session === state.session) {
      state.token = null;
    }
    throw error;
  }
  if (session !== state.session) {
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.agent = { id: String(me.id), name: String(me.name || me.id) };
  ui.agentName.textContent = state.agent.name;
  ui.agentBox.hidden = false;
  ui.loginView.hidden = true;
  ui.viewTabs.hidden = false;
  showView("workspace");
  ui.loginMessage.textContent = "";
  poll(session, refreshQueue, QUEUE_POLL_MS, "queue");
  poll(session, refreshTicket, TICKET_POLL_MS, "ticket");
}

ui.loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = ui.loginToken.value.trim();
  if (!token) {
    ui.loginMessage.textContent = "请输入登录令牌。";
    ui.loginToken.focus();
    return;
  }
  ui.loginSubmit.disabled = true;
  ui.loginMessage.textContent = "正在登录…";
  try {
    await signIn(token);
  } catch (error) {
    if (!(error instanceof DeskApiError && error.status === 401)) {
      ui.loginMessage.textContent = errorText(error);
    }
  } finally {
    ui.loginSubmit.disabled = false;
  }
});

ui.logout.addEventListener("click", () => signOut("您已退出。"));
ui.bannerClose.addEventListener("click", () => clearError());

// ---- polling -----------------------------------------------------------------------------

// Runs `refresh` now and then every `intervalMs` after the previous one finished, until the
// session ends; one request at a time, so a slow server is not flooded.
async function poll(session, refresh, intervalMs, source) {
  while (session === state.session) {
    try {
      await refresh();
      clearError(source);
    } catch (error) {
      if (session === state.session) {
        showErrorFromPoll(error, source);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function showErrorFromPoll(error, source) {
  // An action's error is more useful to the agent than "still cannot refresh".
  if (state.bannerSource !== "action") {
    showError(error, source);
  }
}

// ---- formatting --------------------------------------------------------------------------

const timeFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

function formatTime(iso) {
  const time = iso ? new Date(iso) : null;
  return time && !Number.isNaN(time.getTime()) ? timeFormat.format(time) : "";
}

// Policy priorities: 1 is urgent (taken up within 5 minutes), 2-3 high (15), the rest normal.
function priorityOf(priority) {
  const number = Number(priority);
  if (number <= 1) {
    return { label: "紧急", level: "urgent" };
  }
  if (number <= 3) {
    return { label: "高", level: "high" };
  }
  return { label: "普通", level: "normal" };
}

function slaOf(ticket, now) {
  if (ticket.status !== "queued" && ticket.status !== "callback_scheduled") {
    return null; // the due time is for taking the ticket up
  }
  const due = new Date(ticket.due_at).getTime();
  if (Number.isNaN(due)) {
    return null;
  }
  const left = due - now;
  if (left < 0) {
    return { text: `已超时 ${Math.ceil(-left / 60000)} 分钟`, level: "overdue" };
  }
  const minutes = Math.ceil(left / 60000);
  const text = minutes < 60 ? `剩余 ${minutes} 分钟` : `剩余 ${Math.floor(minutes / 60)} 小时 ${minutes % 60} 分钟`;
  return { text, level: left <= SLA_SOON_MS ? "soon" : "ok" };
}

function labelOf(table, value) {
  return table[value] || String(value ?? "");
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined && text !== null) {
    node.textContent = String(text);
  }
  return node;
}

function chip(text, kind) {
  return el("span", kind ? `chip chip-${kind}` : "chip", text);
}

function assignedAgentOf(ticket) {
  const agent = ticket.assigned_agent;
  if (!agent) {
    return null;
  }
  return typeof agent === "object" ? { id: String(agent.id), name: String(agent.name || agent.id) } : { id: String(agent), name: String(agent) };
}

function isMine(ticket) {
  const agent = assignedAgentOf(ticket);
  return Boolean(agent && state.agent && agent.id === state.agent.id);
}

function statusChips(ticket) {
  const chips = [chip(labelOf(STATUSES, ticket.status), `status-${ticket.status}`)];
  const agent = assignedAgentOf(ticket);
  if (ticket.status === "assigned" && agent) {
    chips.push(isMine(ticket) ? chip("我的", "mine") : chip(agent.name));
  }
  return chips;
}

function slaNode(ticket, now) {
  const sla = slaOf(ticket, now);
  const node = el("span", "sla", sla ? sla.text : "");
  if (sla && sla.level !== "ok") {
    node.classList.add(`sla-${sla.level}`);
  }
  node.dataset.testid = "ticket-sla";
  return node;
}

// ---- queue -------------------------------------------------------------------------------

async function refreshQueue() {
  const session = state.session;
  const data = await api("GET", `tickets?status=${encodeURIComponent(QUEUE_STATUSES)}`);
  if (session !== state.session) {
    return;
  }
  state.tickets = Array.isArray(data.tickets) ? data.tickets : [];
  renderQueue();
}

function renderQueue() {
  const now = Date.now();
  const key = JSON.stringify(state.tickets.map((t) => [t, isMine(t), t.ticket_id === state.selectedId]));
  ui.queueCount.textContent = String(state.tickets.length);
  ui.queueEmpty.hidden = state.tickets.length > 0;
  if (key === state.queueKey) {
    // Same tickets: only the countdowns move. Rebuilding would take the keyboard focus away.
    for (const ticket of state.tickets) {
      const item = ui.queueList.querySelector(`li[data-ticket-id="${CSS.escape(ticket.ticket_id)}"]`);
      const old = item && item.querySelector(".sla");
      if (old) {
        old.replaceWith(slaNode(ticket, now));
      }
    }
    return;
  }
  const focusedId = document.activeElement && ui.queueList.contains(document.activeElement)
    ? document.activeElement.closest("li").dataset.ticketId
    : null;
  state.queueKey = key;
  ui.queueList.replaceChildren(...state.tickets.map((ticket) => queueItem(ticket, now)));
  if (focusedId) {
    const button = ui.queueList.querySelector(`li[data-ticket-id="${CSS.escape(focusedId)}"] button`);
    if (button) {
      button.focus();
    }
  }
}

function queueItem(ticket, now) {
  const priority = priorityOf(ticket.priority);
  const item = el("li", `queue-item level-${priority.level}`);
  item.dataset.testid = "queue-item";
  item.dataset.ticketId = ticket.ticket_id;
  item.dataset.priority = String(ticket.priority);

  const button = el("button", "queue-button");
  button.type = "button";
  button.setAttribute("aria-current", String(ticket.ticket_id === state.selectedId));
  button.addEventListener("click", () => openTicket(ticket.ticket_id));

  const top = el("div", "queue-row");
  top.append(
    chip(`P${ticket.priority} ${priority.label}`, priority.level),
    chip(labelOf(CHANNELS, ticket.channel)),
    el("span", "spacer"),
    slaNode(ticket, now),
  );
  const middle = el("div", "queue-row");
  middle.append(el("span", "queue-reason", labelOf(REASONS, ticket.reason)), el("span", "spacer"), ...statusChips(ticket));
  button.append(top, middle);
  if (ticket.summary) {
    button.append(el("div", "queue-summary", ticket.summary));
  }
  const bottom = el("div", "queue-row queue-contact");
  bottom.append(el("span", "mono", ticket.contact_masked || "无联系电话"), el("span", "spacer"), el("span", "", ticket.ticket_id));
  button.append(bottom);
  item.append(button);
  return item;
}

// ---- ticket ------------------------------------------------------------------------------

function openTicket(ticketId) {
  if (ticketId !== state.selectedId) {
    closeTicket();
    state.selectedId = ticketId;
    ui.placeholder.hidden = true;
    ui.ticketView.hidden = false;
    ui.ticketTitle.textContent = `工单 ${ticketId}`;
    ui.ticketHint.textContent = "正在加载…";
    setActionsEnabled(false);
  }
  renderQueue();
  refreshTicket().catch((error) => showErrorFromPoll(error, "ticket"));
}

function closeTicket() {
  state.selectedId = null;
  state.detail = null;
  state.contextKey = "";
  state.messageKeys = [];
  state.revealed = null;
  state.detailShown = state.detailRequest;
  ui.ticketView.hidden = true;
  ui.placeholder.hidden = false;
  ui.conversationLog.replaceChildren();
  ui.transcript.replaceChildren();
  ui.replyText.value = "";
  updateReplyCount();
}

async function refreshTicket() {
  const ticketId = state.selectedId;
  if (!ticketId) {
    return;
  }
  const request = ++state.detailRequest;
  const data = await api("GET", `tickets/${encodeURIComponent(ticketId)}`);
  if (ticketId !== state.selectedId || request < state.detailShown) {
    return; // the agent moved on, or a newer answer is already shown
  }
  state.detailShown = request;
  state.detail = data;
  renderTicket();
}

// The detail is the queue's ticket plus `context`, `conversation` and `conversation_error`.
function renderTicket() {
  const ticket = state.detail;
  const context = ticket.context || {};
  const priority = priorityOf(ticket.priority);
  ui.ticketTitle.textContent = `工单 ${ticket.ticket_id}`;
  const meta = [
    chip(`P${ticket.priority} ${priority.label}`, priority.level),
    chip(labelOf(REASONS, ticket.reason)),
    chip(labelOf(CHANNELS, ticket.channel)),
    ...statusChips(ticket),
    el("span", "chip", `创建 ${formatTime(ticket.created_at)}`),
  ];
  if (ticket.status === "callback_scheduled" && ticket.callback_at) {
    meta.push(chip(`回电 ${formatTime(ticket.callback_at)}`, "status-callback_scheduled"));
  }
  const sla = slaNode(ticket, Date.now());
  if (sla.textContent) {
    meta.push(sla);
  }
  ui.ticketMeta.replaceChildren(...meta);
  renderActions(ticket);
  renderContext(ticket, context);
  renderConversation(ticket);
}

function renderActions(ticket) {
  const mine = ticket.status === "assigned" && isMine(ticket);
  const claimable = ticket.status === "queued" || ticket.status === "callback_scheduled";
  ui.claim.disabled = state.busy || !claimable;
  ui.claim.textContent = mine ? "已接单" : "接单";
  ui.resolve.disabled = state.busy || !mine;
  ui.handBack.disabled = state.busy || !mine;
  // The API reveals the number to the agent who has the ticket only.
  ui.revealContact.disabled = state.busy || !mine;
  ui.revealContact.title = mine ? "" : "接单后才能显示完整号码";
  ui.replyText.disabled = !mine;
  ui.replySend.disabled = state.busy || !mine || !replyLengthOk();
  const agent = assignedAgentOf(ticket);
  let hint = "";
  if (claimable) {
    hint = "接单后即可回复顾客；接单时机器人会暂停自动回复。";
  } else if (ticket.status === "assigned" && !mine) {
    hint = `该工单由${agent ? ` ${agent.name} ` : "其他客服"}处理中。`;
  } else if (ticket.status === "resolved") {
    hint = ticket.resolution === "handed_back" ? "工单已交还机器人。" : "工单已解决。";
  }
  ui.ticketHint.textContent = hint;
}

function setActionsEnabled(enabled) {
  for (const button of [ui.claim, ui.resolve, ui.handBack, ui.replySend, ui.revealContact]) {
    button.disabled = !enabled;
  }
}

function renderContext(ticket, context) {
  const key = JSON.stringify([ticket.ticket_id, ticket.contact_masked, ticket.has_contact_phone, context]);
  if (key === state.contextKey) {
    return;
  }
  state.contextKey = key;
  ui.summary.textContent = context.summary || "（无摘要）";

  ui.contactMasked.textContent = ticket.contact_masked || "无联系电话";
  ui.revealContact.hidden = !ticket.has_contact_phone;
  ui.contactFull.hidden = state.revealed === null;
  ui.contactFull.textContent = state.revealed || "";

  ui.order.replaceChildren(orderView(context.order_snapshot));
  ui.slotsBody.replaceChildren(...slotRows(context.slots));

  const transcript = Array.isArray(context.transcript) ? context.transcript : [];
  ui.transcript.replaceChildren(
    ...(transcript.length ? transcript.map(messageItem) : [el("li", "log-empty", "没有记录")]),
  );
}

function orderView(order) {
  if (!order || typeof order !== "object") {
    return el("p", "none", "未关联订单（或顾客身份未核验）");
  }
  const box = document.createDocumentFragment();
  const table = el("table", "kv");
  const body = el("tbody");
  const amount = order.payment && order.payment.amount !== undefined ? order.payment.amount : order.amount;
  const rows = [
    ["订单号", order.order_id ?? order.id],
    ["状态", order.status ? labelOf(ORDER_STATUSES, order.status) : null],
    ["金额", amount !== undefined && amount !== null ? `¥${amount}` : null],
  ];
  for (const [name, value] of rows) {
    const row = el("tr");
    row.append(el("th", "", name), el("td", "", value ?? "—"));
    row.firstChild.scope = "row";
    body.append(row);
  }
  table.append(body);
  box.append(table);
  const items = Array.isArray(order.items) ? order.items : [];
  if (items.length) {
    const list = el("ul", "items");
    for (const line of items) {
      const entry = el("li");
      const price = line.price !== undefined && line.price !== null ? ` ¥${line.price}` : "";
      entry.append(el("span", "", line.name || line.sku || "商品"), el("span", "muted", `×${line.quantity ?? 1}${price}`));
      list.append(entry);
    }
    box.append(list);
  }
  return box;
}

function slotRows(slots) {
  const entries = slots && typeof slots === "object" ? Object.entries(slots) : [];
  if (!entries.length) {
    const row = el("tr");
    const cell = el("td", "none", "无");
    cell.colSpan = 2;
    row.append(cell);
    return [row];
  }
  return entries.map(([name, value]) => {
    const row = el("tr");
    const head = el("th", "", name);
    head.scope = "row";
    row.append(head, el("td", "", slotValue(value)));
    return row;
  });
}

function slotValue(value) {
  if (value === null || value === undefined) {
    return "—";
  }
  if (typeof value === "boolean") {
    return value ? "是" : "否";
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// ---- conversation ------------------------------------------------------------------------

function renderConversation(detail) {
  const conversation = detail.conversation;
  const messages = conversation && Array.isArray(conversation.messages) ? conversation.messages : null;
  if (messages === null) {
    const reason = detail.conversation_error ? `（${detail.conversation_error}）` : "";
    ui.conversationNotice.textContent = `暂时无法读取实时对话${reason}，下面显示转人工时的对话记录，系统会自动重试。`;
    ui.conversationNotice.hidden = false;
    ui.transcriptBox.open = true;
    return; // keep what was shown; the next poll may succeed
  }
  ui.conversationNotice.hidden = true;
  const keys = messages.map((m) => JSON.stringify([m.role, m.text, m.at, m.agent_name]));
  const log = ui.conversationLog;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const samePrefix = state.messageKeys.length <= keys.length && state.messageKeys.every((key, i) => key === keys[i]);
  if (!samePrefix || state.messageKeys.length === 0) {
    log.replaceChildren(...(messages.length ? messages.map(messageItem) : [el("li", "log-empty", "还没有消息")]));
  } else {
    // Only new messages are added, so a screen reader announces just those.
    log.append(...messages.slice(state.messageKeys.length).map(messageItem));
  }
  if (messages.length && (atBottom || state.messageKeys.length === 0 || !samePrefix)) {
    log.scrollTop = log.scrollHeight;
  }
  state.messageKeys = messages.length ? keys : [];
}

const ROLE_LABELS = { shopper: "顾客", bot: "机器人", agent: "客服" };

function messageItem(message) {
  const role = ROLE_LABELS[message.role] ? message.role : "bot";
  const item = el("li", `message message-${role}`);
  item.dataset.testid = "message";
  item.dataset.role = role;
  const meta = el("div", "message-meta");
  if (role === "agent") {
    meta.append(el("span", "agent-tag", "客服"), document.createTextNode(message.agent_name || ""));
  } else {
    meta.append(document.createTextNode(ROLE_LABELS[role]));
  }
  const time = formatTime(message.at);
  if (time) {
    meta.append(document.createTextNode(` · ${time}`));
  }
  item.append(meta, el("div", "message-text", message.text));
  return item;
}

// ---- actions -----------------------------------------------------------------------------

// Runs one agent action: buttons off while it runs, its error shown, the view refreshed.
async function act(work) {
  if (state.busy || !state.selectedId) {
    return;
  }
  state.busy = true;
  setActionsEnabled(false);
  clearError("action");
  try {
    await work(state.selectedId);
  } catch (error) {
    showError(error, "action");
  } finally {
    state.busy = false;
  }
  await Promise.allSettled([refreshTicket(), refreshQueue()]);
  if (state.detail) {
    renderActions(state.detail);
  }
}

function ticketPath(ticketId, action) {
  return `tickets/${encodeURIComponent(ticketId)}/${action}`;
}

ui.claim.addEventListener("click", () => act((id) => api("POST", ticketPath(id, "claim"))));

ui.resolve.addEventListener("click", () => act((id) => api("POST", ticketPath(id, "resolve"))));

ui.handBack.addEventListener("click", () => act((id) => api("POST", ticketPath(id, "hand-back"))));

ui.revealContact.addEventListener("click", () => {
  if (!window.confirm("显示完整号码会记录在操作日志中。确定要显示吗？")) {
    return;
  }
  act(async (id) => {
    const data = await api("POST", ticketPath(id, "reveal-contact"));
    if (id === state.selectedId) {
      state.revealed = String(data.contact_phone ?? "");
      ui.contactFull.textContent = state.revealed;
      ui.contactFull.hidden = false;
      ui.revealContact.hidden = true;
    }
  });
});

function replyLengthOk() {
  const length = ui.replyText.value.trim().length;
  return length >= 1 && ui.replyText.value.length <= REPLY_MAX_CHARS;
}

function updateReplyCount() {
  const length = ui.replyText.value.length;
  ui.replyCount.textContent = `${length}/${REPLY_MAX_CHARS}`;
  ui.replyCount.classList.toggle("over", length > REPLY_MAX_CHARS);
  if (state.detail) {
    renderActions(state.detail);
  }
}

async function sendReply() {
  if (!replyLengthOk() || ui.replySend.disabled) {
    return;
  }
  const text = ui.replyText.value;
  await act(async (id) => {
    await api("POST", ticketPath(id, "reply"), { text });
    // Cleared only once the API took it: a failed reply stays in the box to send again.
    if (ui.replyText.value === text) {
      ui.replyText.value = "";
      updateReplyCount();
    }
  });
  ui.replyText.focus();
}

ui.replyText.addEventListener("input", updateReplyCount);

ui.replyText.addEventListener("keydown", (event) => {
  // Enter while a Chinese input method is composing picks a candidate; it must not send.
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
    return;
  }
  event.preventDefault();
  sendReply();
});

ui.replyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sendReply();
});

// ---- start -------------------------------------------------------------------------------

// ---- views: the queue, the unanswered-question log, the report ---------------------------

function showView(name) {
  for (const tab of ui.viewTabs.querySelectorAll("[data-view]")) {
    const selected = tab.dataset.view === name;
    tab.setAttribute("aria-pressed", String(selected));
    $(tab.dataset.view).hidden = !selected;
  }
  if (name === "unanswered-view") {
    loadUnanswered().catch((error) => showError(error, "action"));
  }
}

for (const tab of document.querySelectorAll("#view-tabs [data-view]")) {
  tab.addEventListener("click", () => showView(tab.dataset.view));
}

for (const [name, label] of Object.entries(INTENTS)) {
  const option = document.createElement("option");
  option.value = name;
  option.label = label;
  ui.intentOptions.append(option);
}

async function loadUnanswered() {
  const pendingOnly = ui.unansweredPendingOnly.checked;
  const query = `limit=${UNANSWERED_LIMIT}${pendingOnly ? "&reviewed=false" : ""}`;
  const data = await api("GET", `unanswered?${query}`);
  const messages = Array.isArray(data.messages) ? data.messages : [];
  ui.unansweredRows.replaceChildren(...messages.map(unansweredRow));
  ui.unansweredEmpty.hidden = messages.length > 0;
}

function rankingText(ranking) {
  return (Array.isArray(ranking) ? ranking : [])
    .slice(0, 3)
    .map((entry) => `${labelOf(INTENTS, entry.name)} ${Math.round(Number(entry.confidence || 0) * 100)}%`)
    .join("，");
}

function reviewText(review) {
  if (!review) {
    return "";
  }
  const verdict = review.intent ? `意图：${labelOf(INTENTS, review.intent)}` : `新话题：${review.new_topic}`;
  return `${verdict}（${review.reviewed_by}，${formatTime(review.reviewed_at)}）`;
}

function unansweredRow(message) {
  const details = message.details || {};
  const row = el("tr");
  row.dataset.recordId = String(message.id);
  row.dataset.testid = "unanswered-row";
  row.append(
    el("td", "nowrap", formatTime(message.created_at)),
    el("td", "nowrap", labelOf(CHANNELS, details.channel)),
    el("td", "shopper-text", details.text),
    el("td", "muted", rankingText(details.intent_ranking)),
    el("td", "nowrap", labelOf(NEXT_STEPS, message.outcome)),
  );
  const cell = el("td", "review-cell");
  const done = el("p", "review-done", reviewText(message.review));
  done.dataset.testid = "review-done";
  const form = el("form", "review-form");
  form.noValidate = true;
  const input = el("input");
  input.setAttribute("list", "intent-options");
  input.setAttribute("aria-label", "本来的意图或新话题");
  input.placeholder = "意图，如 request_return";
  input.dataset.testid = "review-input";
  const save = el("button", "btn btn-small btn-primary", "定为意图");
  save.type = "submit";
  save.dataset.testid = "review-intent";
  const topic = el("button", "btn btn-small", "标为新话题");
  topic.type = "button";
  topic.dataset.testid = "review-topic";
  form.append(input, save, topic);
  const review = async (body) => {
    try {
      const updated = await api("POST", `unanswered/${encodeURIComponent(String(message.id))}/review`, body);
      done.textContent = reviewText(updated.review);
      clearError("action");
    } catch (error) {
      showError(error, "action");
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!(value in INTENTS)) {
      showError(new Error("请从列表中选择一个意图，或点“标为新话题”。"), "action");
      return;
    }
    review({ intent: value });
  });
  topic.addEventListener("click", () => {
    const value = input.value.trim();
    if (!value) {
      showError(new Error("请先写下新话题的名称。"), "action");
      return;
    }
    review({ new_topic: value });
  });
  cell.append(done, form);
  row.append(cell);
  return row;
}

ui.unansweredRefresh.addEventListener("click", () => loadUnanswered().catch((error) => showError(error, "action")));
ui.unansweredPendingOnly.addEventListener("change", () => loadUnanswered().catch((error) => showError(error, "action")));

// The report: the same figures as `make report`, each as a table with how it is computed.

function beijingDay(offsetDays) {
  const shifted = new Date(Date.now() + 8 * 60 * 60 * 1000 + offsetDays * DAY_MS);
  return shifted.toISOString().slice(0, 10);
}

ui.reportFrom.value = beijingDay(1 - REPORT_DEFAULT_DAYS);
ui.reportTo.value = beijingDay(0);

function valueText(value) {
  if (value === null || value === undefined) {
    return "—";
  }
  if (typeof value === "number" && !Number.isInteger(value)) {
    return value.toFixed(3);
  }
  return String(value);
}

function figureRows(figure) {
  const rows = [];
  for (const [key, value] of Object.entries(figure)) {
    if (key === "how") {
      continue;
    }
    if (value === null || typeof value !== "object") {
      rows.push([key, valueText(value)]);
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => {
        const text = item && typeof item === "object"
          ? Object.entries(item).map(([k, v]) => `${k}=${valueText(v)}`).join("，")
          : valueText(item);
        rows.push([`${key}[${index + 1}]`, text]);
      });
    } else {
      for (const [inner, innerValue] of Object.entries(value)) {
        const text = innerValue && typeof innerValue === "object" ? JSON.stringify(innerValue) : valueText(innerValue);
        rows.push([`${key}.${inner}`, text]);
      }
    }
  }
  return rows;
}

function figureSection(name, figure) {
  const section = el("section", "card report-figure");
  section.dataset.figure = name;
  section.append(el("h3", "section-title", FIGURE_TITLES[name] || name));
  section.append(el("p", "muted how", figure.how));
  const table = el("table", "kv");
  const body = el("tbody");
  for (const [key, text] of figureRows(figure)) {
    const row = el("tr");
    row.append(el("th", "", key), el("td", "mono", text));
    body.append(row);
  }
  table.append(body);
  section.append(table);
  return section;
}

async function loadReport() {
  const query = `from=${encodeURIComponent(ui.reportFrom.value)}&to=${encodeURIComponent(ui.reportTo.value)}`;
  const report = await api("GET", `report?${query}`);
  const sections = Object.keys(FIGURE_TITLES)
    .filter((name) => report[name] && typeof report[name] === "object")
    .map((name) => figureSection(name, report[name]));
  const period = report.period || {};
  const head = el("p", "muted", `${period.first_day} 至 ${period.last_day}（北京时间），生成于 ${formatTime(report.generated_at)}`);
  ui.reportBody.replaceChildren(head, ...sections);
}

ui.reportForm.addEventListener("submit", (event) => {
  event.preventDefault();
  loadReport().then(() => clearError("action"), (error) => showError(error, "action"));
});

const savedToken = sessionStorage.getItem(TOKEN_KEY);
if (savedToken) {
  signIn(savedToken).catch((error) => {
    if (!(error instanceof DeskApiError && error.status === 401)) {
      showLogin(errorText(error));
    }
  });
} else {
  showLogin("");
}
