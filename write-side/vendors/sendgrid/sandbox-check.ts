import type { Server } from '../../../domain/index.js';
import type { TenancyStore } from '../../../infra/tenancy/index.js';
import type { TemplateStore } from '../../../infra/templates/index.js';
import { renderTemplate } from '../../templates/render.js';
import { problem, type SendGridProblem, type SendGridStatus } from './sendgrid-errors.js';
import type { SendGridPlan } from './sendgrid-mail.js';

/**
 * mail_settings.sandbox_mode: what a real send would check beyond the request itself — the From
 * domain is one of the server's verified domains, the template exists and renders for every
 * personalization — without composing or accepting anything. Undefined: it would be accepted.
 */
export async function sandboxRefusal(
  deps: { tenancy: TenancyStore; templates: TemplateStore },
  server: Server,
  plan: SendGridPlan,
): Promise<{ status: SendGridStatus; problems: SendGridProblem[] } | undefined> {
  const domain = await deps.tenancy.sendingDomain(server.id, plan.from.domain);
  if (!domain?.verified)
    return {
      status: 403,
      problems: [
        problem(
          'from',
          'The from address does not match a verified Sender Identity. Mail cannot be sent until this error is ' +
            `resolved. (${plan.from.domain} is not a verified domain of this server)`,
        ),
      ],
    };
  if (!plan.template) return undefined;
  const { id, alias } = plan.template;
  const template = id ? await deps.templates.get(id) : await deps.templates.byAlias(server.id, alias ?? '');
  const version =
    template?.serverId === server.id ? await deps.templates.version(template.id, template.currentVersion) : undefined;
  if (!version)
    return {
      status: 400,
      problems: [problem('template_id', `The template_id is not a template of this server: ${id ?? alias}`)],
    };
  const problems: SendGridProblem[] = [];
  for (const email of plan.emails) {
    if (!('template' in email.content)) continue;
    const rendered = renderTemplate(version, email.content.template.model);
    if (!rendered.ok)
      problems.push(
        problem(
          `${email.path}.dynamic_template_data${rendered.error.variable ? `.${rendered.error.variable}` : ''}`,
          rendered.error.message,
        ),
      );
  }
  return problems.length > 0 ? { status: 400, problems } : undefined;
}
