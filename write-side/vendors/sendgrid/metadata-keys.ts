/**
 * Metadata keys this API writes itself: SendGrid's categories (all of them; the first is also the tag) and
 * batch_id have no field of their own in Postlog. A request's custom_args may not use them.
 */
export const CATEGORIES_KEY = 'sendgrid_categories';
export const BATCH_ID_KEY = 'sendgrid_batch_id';
