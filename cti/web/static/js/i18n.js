// Every word on the page, in Chinese and English. The page's static labels carry
// data-i18n="key" (their text) and data-i18n-label="key" (their aria-label); code asks t(key).
// The language defaults to the browser's, a choice on the page is kept in localStorage.

const WORDS = {
  en: {
    brand: "Hotline desk", skip: "Skip to content", language: "Language", signout: "Sign out",
    cancel: "Cancel", close: "Close", no_data: "no data", none: "none",
    "signin.title": "Sign in", "signin.login": "Login", "signin.password": "Password",
    "signin.submit": "Sign in", "signin.busy": "Signing in…",
    "signin.hint": "Agents see their desktop; supervisors and managers the wallboard.",
    "signin.missing": "Enter your login and password.",
    "signin.failed": "Sign-in failed: {message}",
    "signin.role": "The {role} role has no page here: sign in as an agent, supervisor or manager.",
    "signin.ended": "Your session ended. Sign in again.",
    "error.network": "The service cannot be reached. Check the network, then try again.",
    "error.unavailable": "the service does not offer this now ({message}, HTTP {status})",
    "error.http": "HTTP {status}",
    "link.live": "Live", "link.connecting": "Connecting…", "link.lost": "Connection lost, retrying in {s} s",
    "link.forbidden": "Live updates refused: {message}",
    "desk.title": "Agent desktop", "desk.in_state": "in state",
    "desk.login": "Sign in to queues", "desk.logout": "Sign out of queues", "desk.ready": "Ready",
    "desk.pause": "Pause", "desk.unpause": "Unpause", "desk.choose_queues": "Choose your queues",
    "desk.pause_reason": "Reason for the pause",
    "desk.auto_pause": "You were paused because calls rang at your phone and were not answered. Unpause when you are back at your desk.",
    "desk.ready_needs_disposition": "Pick and save a disposition first: this queue requires one before Ready.",
    "desk.no_queues": "Choose at least one queue.",
    "state.logged_out": "Logged out", "state.ready": "Ready", "state.ringing": "Ringing",
    "state.on_call": "On call", "state.wrap_up": "Wrap-up", "state.paused": "Paused",
    "state.paused_for": "Paused: {reason}", "reason.auto:no-answer": "no answer (automatic)",
    "pop.title": "Caller", "pop.waiting": "No call right now. The caller's card appears here when your phone rings.",
    "pop.unknown": "Unknown caller", "pop.vip": "VIP", "pop.queue": "Queue", "pop.wait": "Waiting",
    "pop.repeat": "Called {n}× in the last 48 h (last {at})", "pop.first": "No call in the last 48 h",
    "pop.ivr": "IVR journey", "pop.path": "Path", "pop.keys": "Keys",
    "pop.vehicles": "Vehicles", "pop.no_vehicles": "No vehicle on file",
    "pop.vin": "VIN …{vin}", "pop.last_service": "Last service", "pop.next_due": "Next due",
    "pop.overdue": "overdue", "pop.insurance": "Insurance", "pop.days_left": "{n} days left",
    "pop.expired": "expired {n} days ago",
    "pop.cases": "Open cases", "pop.no_cases": "No open case", "pop.contacts": "Last contacts",
    "pop.no_contacts": "No earlier contact", "pop.resolved": "resolved", "pop.unresolved": "not resolved",
    "pop.customer": "Customer #{id}",
    "pop.withdrawn.answered_elsewhere": "The call was answered by another agent.",
    "pop.withdrawn.abandoned": "The caller hung up before the call was answered.",
    "pop.withdrawn.rolled_over": "The call rang out here and went to the next agent.",
    "pop.withdrawn.canceled": "The call was withdrawn.",
    "segment.vip": "VIP", "segment.regular": "Regular", "lang.zh": "Chinese", "lang.en": "English",
    "form.title": "New customer", "form.hint": "This number is not on file. Create the customer while you talk.",
    "form.name": "Name", "form.segment": "Segment", "form.language": "Language", "form.plate": "Plate (optional)",
    "form.model": "Model (optional)", "form.vin": "VIN (optional)", "form.save": "Create customer",
    "form.saved": "Customer #{id} created.", "form.need_name": "Enter the customer's name.",
    "call.title": "Call", "call.none": "No call", "call.ringing": "Ringing: answer on your phone",
    "call.talking": "Talking", "call.held": "On hold", "call.ended": "Call ended",
    "wrapup.title": "Wrap-up", "wrapup.left": "Wrap-up ends in", "wrapup.pick": "Disposition",
    "wrapup.note": "Note (optional)", "wrapup.save": "Save disposition", "wrapup.saved": "Disposition saved.",
    "wrapup.need_pick": "Pick a disposition first.",
    "keys.title": "Keyboard", "keys.disposition": "Pick a disposition", "keys.close": "Close a dialog",
    "wb.title": "Wallboard", "wb.updated": "Updated", "wb.waiting": "Waiting", "wb.longest": "Longest wait",
    "wb.three_ring": "Answered in 3 rings", "wb.service_level": "Service level", "wb.abandon": "Abandoned",
    "wb.answered": "Answered {answered} of {offered} today", "wb.report": "Open today's KPI report for {queue}",
    "wb.agents": "Agents", "wb.agent": "Agent", "wb.state": "State", "wb.time_in_state": "Time in state",
    "wb.actions": "Actions", "wb.pause": "Pause", "wb.logout": "Sign out",
    "wb.no_queues": "No queue reported yet.", "wb.report_title": "KPI report: {queue}, {day}",
    "service.first_maintenance": "first free maintenance", "service.maintenance": "periodic maintenance",
    "service.repair": "repair", "renewal.due": "renewal due", "renewal.quoted": "quoted",
    "renewal.renewed": "renewed", "renewal.lost": "lost to another insurer",
    "case.complaint": "Complaint", "case.repair": "Repair", "case.roadside": "Roadside", "case.inquiry": "Inquiry",
  },
  zh: {
    brand: "客服热线工作台", skip: "跳到正文", language: "语言", signout: "退出登录",
    cancel: "取消", close: "关闭", no_data: "无数据", none: "无",
    "signin.title": "登录", "signin.login": "账号", "signin.password": "密码",
    "signin.submit": "登录", "signin.busy": "正在登录…",
    "signin.hint": "坐席进入坐席工作台；班长和经理进入监控大屏。",
    "signin.missing": "请输入账号和密码。",
    "signin.failed": "登录失败：{message}",
    "signin.role": "{role} 角色在此没有页面：请用坐席、班长或经理账号登录。",
    "signin.ended": "登录已过期，请重新登录。",
    "error.network": "无法连接服务，请检查网络后重试。",
    "error.unavailable": "服务暂不提供此功能（{message}，HTTP {status}）",
    "error.http": "HTTP {status}",
    "link.live": "实时", "link.connecting": "正在连接…", "link.lost": "连接中断，{s} 秒后重试",
    "link.forbidden": "实时推送被拒绝：{message}",
    "desk.title": "坐席工作台", "desk.in_state": "已持续",
    "desk.login": "签入队列", "desk.logout": "签出队列", "desk.ready": "就绪",
    "desk.pause": "小休", "desk.unpause": "取消小休", "desk.choose_queues": "选择服务的队列",
    "desk.pause_reason": "小休原因",
    "desk.auto_pause": "来电在您的话机上振铃未接，系统已自动将您置为小休。回到座位后请取消小休。",
    "desk.ready_needs_disposition": "请先选择并保存话后处理结果：该队列要求处理结果后才能就绪。",
    "desk.no_queues": "请至少选择一个队列。",
    "state.logged_out": "未签入", "state.ready": "就绪", "state.ringing": "振铃中",
    "state.on_call": "通话中", "state.wrap_up": "话后处理", "state.paused": "小休",
    "state.paused_for": "小休：{reason}", "reason.auto:no-answer": "未接听（自动）",
    "pop.title": "来电客户", "pop.waiting": "当前没有来电。话机振铃时，客户信息会显示在这里。",
    "pop.unknown": "未知来电", "pop.vip": "VIP", "pop.queue": "队列", "pop.wait": "已等待",
    "pop.repeat": "48 小时内来电 {n} 次（最近 {at}）", "pop.first": "48 小时内无来电",
    "pop.ivr": "IVR 路径", "pop.path": "菜单", "pop.keys": "按键",
    "pop.vehicles": "车辆", "pop.no_vehicles": "没有车辆记录",
    "pop.vin": "VIN …{vin}", "pop.last_service": "上次保养", "pop.next_due": "下次保养",
    "pop.overdue": "已逾期", "pop.insurance": "保险", "pop.days_left": "剩余 {n} 天",
    "pop.expired": "已过期 {n} 天",
    "pop.cases": "未结工单", "pop.no_cases": "没有未结工单", "pop.contacts": "最近联系",
    "pop.no_contacts": "没有联系记录", "pop.resolved": "已解决", "pop.unresolved": "未解决",
    "pop.customer": "客户 #{id}",
    "pop.withdrawn.answered_elsewhere": "该来电已由其他坐席接听。",
    "pop.withdrawn.abandoned": "客户在接听前挂断了。",
    "pop.withdrawn.rolled_over": "该来电在您这里振铃超时，已转给下一位坐席。",
    "pop.withdrawn.canceled": "该来电已撤回。",
    "segment.vip": "VIP", "segment.regular": "普通", "lang.zh": "中文", "lang.en": "英语",
    "form.title": "新建客户", "form.hint": "该号码没有客户记录，可在通话时建档。",
    "form.name": "姓名", "form.segment": "客户等级", "form.language": "语言", "form.plate": "车牌（可选）",
    "form.model": "车型（可选）", "form.vin": "VIN（可选）", "form.save": "创建客户",
    "form.saved": "已创建客户 #{id}。", "form.need_name": "请输入客户姓名。",
    "call.title": "通话", "call.none": "无通话", "call.ringing": "振铃中：请在话机上接听",
    "call.talking": "通话中", "call.held": "保持中", "call.ended": "通话已结束",
    "wrapup.title": "话后处理", "wrapup.left": "话后处理剩余", "wrapup.pick": "处理结果",
    "wrapup.note": "备注（可选）", "wrapup.save": "保存处理结果", "wrapup.saved": "处理结果已保存。",
    "wrapup.need_pick": "请先选择处理结果。",
    "keys.title": "快捷键", "keys.disposition": "选择处理结果", "keys.close": "关闭对话框",
    "wb.title": "监控大屏", "wb.updated": "更新于", "wb.waiting": "排队", "wb.longest": "最长等待",
    "wb.three_ring": "三声内接听率", "wb.service_level": "服务水平", "wb.abandon": "放弃率",
    "wb.answered": "今日接听 {answered} / {offered}", "wb.report": "打开 {queue} 今日 KPI 报表",
    "wb.agents": "坐席", "wb.agent": "坐席", "wb.state": "状态", "wb.time_in_state": "持续时间",
    "wb.actions": "操作", "wb.pause": "小休", "wb.logout": "签出",
    "wb.no_queues": "暂无队列数据。", "wb.report_title": "KPI 报表：{queue}，{day}",
    "service.first_maintenance": "首次免费保养", "service.maintenance": "定期保养", "service.repair": "维修",
    "renewal.due": "待续保", "renewal.quoted": "已报价", "renewal.renewed": "已续保", "renewal.lost": "已流失",
    "case.complaint": "投诉", "case.repair": "维修", "case.roadside": "道路救援", "case.inquiry": "咨询",
  },
};

const STORED = "cti.lang";
const listeners = new Set();
let current = localStorage.getItem(STORED) ?? (navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en");

export const lang = () => current;

/** The word for key, with {name} placeholders filled from vars; the key itself if unknown. */
export function t(key, vars = {}) {
  const text = WORDS[current][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** A value's word in a group ("segment", "vip" -> "VIP"), or the value itself if none. */
export const term = (group, value) => WORDS[current][`${group}.${value}`] ?? String(value ?? "");

/** A configured label {"zh": ..., "en": ...} in the page's language. */
export const label = (labels) => labels[current] ?? labels.en ?? Object.values(labels)[0] ?? "";

export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
}

export function setLang(code) {
  current = code in WORDS ? code : "en";
  localStorage.setItem(STORED, current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  document.title = t("brand");
  translate();
  for (const listener of listeners) listener(current);
}

/** Call fn after each change of language (views re-render their dynamic text); answers the undo. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
