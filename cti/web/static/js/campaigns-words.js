// The campaigns page's words, in Chinese and English, beside the page's own (i18n.js): w(key)
// answers in the page's current language, with {name} placeholders filled like t().
import { lang } from "./i18n.js";

const WORDS = {
  en: {
    "view.wallboard": "Wallboard", "view.campaigns": "Campaigns", "view.label": "Views",
    title: "Campaigns", refresh: "Refresh", updated: "Updated {at}", none: "No campaign yet.",
    "col.campaign": "Campaign", "col.kind": "Kind", "col.status": "Status", "col.lines": "Lines",
    "col.contacted": "Contacted", "col.right_party": "Right party", "col.appointments": "Appointments",
    "col.abandon": "Abandon rate", "col.actions": "Actions", no_data: "no data",
    start: "Start", pause: "Pause", stop: "Stop", upload_for: "Upload a list",
    "confirm.stop": "Stop campaign {name} for good? Its waiting lines will not be called.",
    "status.draft": "Draft", "status.running": "Running", "status.paused": "Paused", "status.stopped": "Stopped",
    "kind.follow_up_service": "Follow-up 3 days after service", "kind.follow_up_delivery": "Follow-up 7 days after delivery",
    "kind.first_maintenance": "First maintenance", "kind.periodic_maintenance": "Periodic maintenance",
    "kind.insurance_renewal": "Insurance renewal", "kind.survey": "Survey", "kind.leads": "Leads",
    "mode.preview": "Preview", "mode.progressive": "Progressive", "mode.predictive": "Predictive",
    "new.title": "New campaign", "new.name": "Name (a-z, 0-9, - and _)", "new.label": "Title",
    "new.kind": "Kind", "new.queue": "Queue", "new.mode": "Dial mode",
    "new.hours": "Calling hours (optional)", "new.submit": "Create campaign",
    "new.created": "Campaign {name} created as a draft.", "new.bad": "Check the fields marked below.",
    "up.title": "Upload a call list", "up.campaign": "Campaign", "up.file": "File (CSV or XLSX)",
    "up.hint": "Columns are found by their usual names (手机号, phone, 姓名, name, 车牌, VIN, 到期日...). Name a column only if it is called otherwise.",
    "up.map": "Column for {field}", "up.auto": "found by name",
    "field.phone": "phone", "field.name": "name", "field.plate": "plate", "field.vin": "VIN",
    "field.model": "model", "field.due": "due date", "field.date": "service/delivery date",
    "up.dry_run": "Check only (store nothing)", "up.strict": "Refuse the whole file if any line is rejected",
    "up.submit": "Check and import", "up.need_file": "Choose a file first.",
    "rep.title": "Report: {file}", "rep.summary": "{lines} lines: {accepted} accepted, {rejected} rejected.",
    "rep.stored": "{stored} lines stored in {campaign}.", "rep.dry_run": "Check only: nothing stored ({accepted} lines would be).",
    "rep.strict": "Refused: {rejected} line(s) rejected, nothing stored.",
    "rep.line": "Line", "rep.phone": "Phone", "rep.name": "Name", "rep.verdict": "Result", "rep.reason": "Why",
    "verdict.ok": "Accepted", "verdict.bad_number": "Bad number", "verdict.duplicate": "Duplicate in the list",
    "verdict.in_campaign": "Already in the campaign", "verdict.called_recently": "Called recently",
    "verdict.dnc": "Do-not-call list", "verdict.international": "Outside the calling region",
    "verdict.emergency": "Emergency number", "verdict.short_code": "Short code", "verdict.premium": "Number type not allowed",
    "verdict.bad_date": "Bad date",
  },
  zh: {
    "view.wallboard": "监控大屏", "view.campaigns": "外呼活动", "view.label": "视图",
    title: "外呼活动", refresh: "刷新", updated: "更新于 {at}", none: "还没有外呼活动。",
    "col.campaign": "活动", "col.kind": "类型", "col.status": "状态", "col.lines": "名单数",
    "col.contacted": "已接通", "col.right_party": "本人接听", "col.appointments": "预约",
    "col.abandon": "放弃率", "col.actions": "操作", no_data: "无数据",
    start: "开始", pause: "暂停", stop: "停止", upload_for: "上传名单",
    "confirm.stop": "确定永久停止活动 {name}？未拨打的名单将不再拨打。",
    "status.draft": "草稿", "status.running": "进行中", "status.paused": "已暂停", "status.stopped": "已停止",
    "kind.follow_up_service": "服务后 3 天回访", "kind.follow_up_delivery": "交车后 7 天回访",
    "kind.first_maintenance": "首保提醒", "kind.periodic_maintenance": "定期保养提醒",
    "kind.insurance_renewal": "续保", "kind.survey": "满意度调查", "kind.leads": "线索",
    "mode.preview": "预览式", "mode.progressive": "渐进式", "mode.predictive": "预测式",
    "new.title": "新建活动", "new.name": "活动代码（a-z、0-9、- 和 _）", "new.label": "名称",
    "new.kind": "类型", "new.queue": "队列", "new.mode": "拨号方式",
    "new.hours": "呼叫时段（可选）", "new.submit": "创建活动",
    "new.created": "活动 {name} 已创建（草稿）。", "new.bad": "请检查下方标出的字段。",
    "up.title": "上传外呼名单", "up.campaign": "活动", "up.file": "文件（CSV 或 XLSX）",
    "up.hint": "系统按常用列名识别各列（手机号、phone、姓名、车牌、VIN、到期日……）；列名不同时才需填写。",
    "up.map": "{field}所在列", "up.auto": "按列名识别",
    "field.phone": "电话", "field.name": "姓名", "field.plate": "车牌", "field.vin": "VIN",
    "field.model": "车型", "field.due": "到期日", "field.date": "服务/交车日期",
    "up.dry_run": "仅检查（不导入）", "up.strict": "有任何一行被拒绝时整份文件都不导入",
    "up.submit": "检查并导入", "up.need_file": "请先选择文件。",
    "rep.title": "导入报告：{file}", "rep.summary": "共 {lines} 行：接受 {accepted} 行，拒绝 {rejected} 行。",
    "rep.stored": "已导入 {stored} 行到 {campaign}。", "rep.dry_run": "仅检查：未导入（可导入 {accepted} 行）。",
    "rep.strict": "已拒绝：{rejected} 行被拒绝，整份文件未导入。",
    "rep.line": "行号", "rep.phone": "电话", "rep.name": "姓名", "rep.verdict": "结果", "rep.reason": "原因",
    "verdict.ok": "已接受", "verdict.bad_number": "号码无效", "verdict.duplicate": "名单内重复",
    "verdict.in_campaign": "已在本活动中", "verdict.called_recently": "近期已呼叫",
    "verdict.dnc": "禁呼名单", "verdict.international": "不在呼叫地区",
    "verdict.emergency": "紧急号码", "verdict.short_code": "短号码", "verdict.premium": "号码类型不允许",
    "verdict.bad_date": "日期无效",
  },
};

export function w(key, vars = {}) {
  const text = WORDS[lang()]?.[key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** A value's word in a group ("kind", "survey"), or the value itself. */
export const wTerm = (group, value) => WORDS[lang()]?.[`${group}.${value}`] ?? WORDS.en[`${group}.${value}`] ?? String(value);
