// zh-CN for the modeler's palette, context pad and properties panel (bpmn-js translates through
// one `translate` service; strings not listed stay in English, placeholders {x} are filled in).
const ZH = {
  'Activate create/remove space tool': '插入/删除空间', 'Activate global connect tool': '全局连线',
  'Activate hand tool': '抓手（移动画布）', 'Activate lasso tool': '套索选择', 'Add lane above': '在上方添加泳道',
  'Add lane below': '在下方添加泳道', 'Add text annotation': '添加注释', 'Append end event': '追加结束事件',
  'Append gateway': '追加网关', 'Append intermediate/boundary event': '追加中间/边界事件', 'Append task': '追加任务',
  'Append timer intermediate catch event': '追加定时器事件', 'Change element': '更改类型', 'Connect to other element': '连线',
  'Connect using association': '关联连线', 'Create data object reference': '创建数据对象', 'Create data store reference': '创建数据存储',
  'Create end event': '创建结束事件', 'Create expanded sub-process': '创建子流程', 'Create gateway': '创建网关',
  'Create group': '创建分组', 'Create intermediate/boundary event': '创建中间/边界事件', 'Create pool/participant': '创建池/参与者',
  'Create start event': '创建开始事件', 'Create task': '创建任务', Delete: '删除', 'Divide into three lanes': '分为三条泳道',
  'Divide into two lanes': '分为两条泳道', 'Toggle non-interrupting': '切换为不中断', General: '常规', Name: '名称', ID: '标识',
  Documentation: '说明', 'Element documentation': '元素说明', 'Process documentation': '流程说明', Timer: '定时器',
  Type: '类型', Value: '值', Date: '日期', Duration: '时长', Cycle: '循环', Condition: '条件', 'Condition expression': '条件表达式',
  Executable: '可执行', 'Process ID': '流程标识', 'Process name': '流程名称', Version: '版本', Participant: '参与者',
  'Multi-instance': '多实例', 'Loop characteristics': '循环特性', Inputs: '输入', Outputs: '输出', 'Element must have an unique id.': '元素标识必须唯一。',
  'ID must not be empty.': '标识不能为空。', 'ID must not contain spaces.': '标识不能包含空格。',
  'ID must be a valid QName.': '标识必须是合法的 QName。', 'ID must not contain prefix.': '标识不能包含前缀。',
  Task: '任务', 'User task': '用户任务', 'Service task': '服务任务', 'Exclusive gateway': '排他网关', 'Parallel gateway': '并行网关',
  'Start event': '开始事件', 'End event': '结束事件', 'Timer boundary event (non-interrupting)': '定时器边界事件（不中断）',
  'Timer boundary event': '定时器边界事件', 'Sequence flow': '顺序流', Lane: '泳道', 'Default flow': '默认流向',
  'Conditional flow': '条件流向', 'User Task': '用户任务', 'Service Task': '服务任务', 'Exclusive Gateway': '排他网关',
  'Start Event': '开始事件', 'End Event': '结束事件', 'Boundary Event': '边界事件', 'Sequence Flow': '顺序流', Process: '流程',
  'Timer Boundary Event': '定时器边界事件', 'Intermediate Catch Event': '中间捕获事件', 'Timer Intermediate Catch Event': '定时器中间事件',
  Collaboration: '协作', 'No Issues': '没有问题', '{errors} Errors, {warnings} Warnings': '{errors} 个错误，{warnings} 个警告',
  'Toggle linting overlays': '显示/隐藏检查标记', 'Issues for child elements': '子元素的问题', 'Participant ': '参与者', 'Timer intermediate catch event': '定时器中间事件', 'Search in diagram': '在图中搜索',
};

export default function translate(template, replacements) {
  const text = ZH[template] || template;
  return text.replace(/{([^}]+)}/g, (_, key) => (replacements && key in replacements ? replacements[key] : `{${key}}`));
}
