export {
  TemplateStore,
  type MessageTemplate,
  type TemplateContent,
  type TemplateVersion,
} from './template-store.js';
